//! The terms of a contract: everything it says about one booking, from
//! the booking, its accepted deal, the venue, the artist and both companies.

use anyhow::Context as _;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::DomainError;
use crate::domain::booking::bookings::BookingStatus;
use crate::domain::booking::deal::{
    Bonus, Deal, DealType, PercentageBasis, RadiusClause, StoredDeal,
};
use crate::domain::booking::offers::Venue;
use crate::money::Percent;

/// Everything a contract says about one booking, gathered by
/// [`terms_for_booking`] (or built by the caller). Rendering reads nothing
/// else, so a version can be re-rendered from its stored terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    pub contract: ContractTerms,
    pub booking: BookingTerms,
    pub artist: ArtistTerms,
    /// The representing agency, which contracts on the artist's behalf.
    pub agency: CompanyTerms,
    pub promoter: CompanyTerms,
    pub venue: VenueTerms,
    /// The accepted deal of the booking.
    pub deal: Deal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractTerms {
    pub title: String,
    pub issued_on: NaiveDate,
    /// The reference both parties quote.
    pub reference: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingTerms {
    pub id: Uuid,
    pub event_date: NaiveDate,
    pub status: BookingStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtistTerms {
    pub id: Uuid,
    pub name: String,
    /// ISO 3166-1 alpha-2 home country.
    pub country_code: Option<String>,
    /// The home country's name.
    pub country: Option<String>,
    pub city: Option<String>,
}

/// A party company as the directory knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyTerms {
    pub id: Uuid,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueTerms {
    pub name: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, from the venue's city.
    pub country_code: Option<String>,
    pub country: Option<String>,
    pub capacity: Option<i32>,
}

/// Gathers the terms of a booking: the booking and its accepted deal, the
/// venue of its offer (city and country from the reference tables), the
/// artist and both companies. It checks no access: the caller has already
/// loaded the booking for its org. The reference is the booking's
/// (see [`booking_reference`]); the caller may replace it.
pub async fn terms_for_booking(
    conn: &mut PgConnection,
    booking_id: Uuid,
    title: &str,
    issued_on: NaiveDate,
) -> Result<Terms, DomainError> {
    let row = sqlx::query!(
        r#"SELECT b.id, b.event_date, b.status AS "status: BookingStatus", b.deal AS "deal: Json<StoredDeal>",
                  b.agency_company_id, b.promoter_company_id, o.venue AS "venue: Json<Venue>",
                  vci.name AS "venue_city?", vco.code::text AS "venue_country_code?", vco.name AS "venue_country?",
                  a.id AS artist_id, a.name AS artist_name, a.country_code::text AS "artist_country_code?",
                  aco.name AS "artist_country?", aci.name AS "artist_city?"
             FROM bookings b
             JOIN offers o ON o.id = b.offer_id
             JOIN artists a ON a.id = b.artist_id
             LEFT JOIN cities vci ON vci.id = o.venue_city_id
             LEFT JOIN countries vco ON vco.code = vci.country_code
             LEFT JOIN cities aci ON aci.id = a.city_id
             LEFT JOIN countries aco ON aco.code = a.country_code
            WHERE b.id = $1"#,
        booking_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    let companies = sqlx::query_as!(
        CompanyTerms,
        r#"SELECT c.id AS "id!", c.name AS "name!", c.country_code::text AS "country_code?", co.name AS "country?",
                  ci.name AS "city?", c.email, c.phone, c.website
             FROM companies c
             LEFT JOIN countries co ON co.code = c.country_code
             LEFT JOIN cities ci ON ci.id = c.city_id
            WHERE c.id = ANY($1)"#,
        &[row.agency_company_id, row.promoter_company_id][..]
    )
    .fetch_all(&mut *conn)
    .await?;
    let company = |id: Uuid| {
        companies
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .with_context(|| format!("company {id} of booking {booking_id} is missing"))
    };
    let venue = row.venue.0;
    Ok(Terms {
        contract: ContractTerms {
            title: title.to_owned(),
            issued_on,
            reference: booking_reference(row.id, row.event_date),
        },
        booking: BookingTerms {
            id: row.id,
            event_date: row.event_date,
            status: row.status,
        },
        artist: ArtistTerms {
            id: row.artist_id,
            name: row.artist_name,
            country_code: row.artist_country_code,
            country: row.artist_country,
            city: row.artist_city,
        },
        agency: company(row.agency_company_id)?,
        promoter: company(row.promoter_company_id)?,
        venue: VenueTerms {
            name: venue.name,
            city: row.venue_city,
            country_code: row.venue_country_code,
            country: row.venue_country,
            capacity: venue.capacity,
        },
        deal: Deal::from(row.deal.0),
    })
}

/// A booking's contract reference, `K-20270313-5F6A7B8C`: the event date
/// and the last eight hex digits of the booking id (random bits in a
/// UUIDv7, so two bookings on one date practically never share one).
pub fn booking_reference(booking_id: Uuid, event_date: NaiveDate) -> String {
    let hex = booking_id.simple().to_string().to_uppercase();
    let tail = hex.get(hex.len().saturating_sub(8)..).unwrap_or(&hex);
    format!("K-{}-{tail}", event_date.format("%Y%m%d"))
}

/// Realistic terms with every optional value present: the examples of
/// [`VARIABLES`], and the trial render of [`check`].
pub fn sample_terms() -> Terms {
    let booking_id = Uuid::from_u128(0x0194a3b2_7c1d_7e2f_9a3b_4c5d5f6a7b8c);
    let event_date = date(2027, 3, 13);
    Terms {
        contract: ContractTerms {
            title: "Performance Agreement".into(),
            issued_on: date(2026, 12, 1),
            reference: booking_reference(booking_id, event_date),
        },
        booking: BookingTerms {
            id: booking_id,
            event_date,
            status: BookingStatus::Confirmed,
        },
        artist: ArtistTerms {
            id: Uuid::from_u128(0x0194a3b2_7c1d_7e2f_9a3b_000000000a01),
            name: "Nova Lux".into(),
            country_code: Some("NL".into()),
            country: Some("Netherlands".into()),
            city: Some("Amsterdam".into()),
        },
        agency: CompanyTerms {
            id: Uuid::from_u128(0x0194a3b2_7c1d_7e2f_9a3b_000000000b01),
            name: "Northern Lights Artists".into(),
            country_code: Some("DE".into()),
            country: Some("Germany".into()),
            city: Some("Berlin".into()),
            email: Some("bookings@northernlights.example".into()),
            phone: Some("+49 30 1234567".into()),
            website: Some("https://northernlights.example".into()),
        },
        promoter: CompanyTerms {
            id: Uuid::from_u128(0x0194a3b2_7c1d_7e2f_9a3b_000000000c01),
            name: "Harbour Sound Events".into(),
            country_code: Some("DE".into()),
            country: Some("Germany".into()),
            city: Some("Hamburg".into()),
            email: Some("shows@harboursound.example".into()),
            phone: Some("+49 40 7654321".into()),
            website: Some("https://harboursound.example".into()),
        },
        venue: VenueTerms {
            name: Some("Grosse Freiheit 36".into()),
            city: Some("Hamburg".into()),
            country_code: Some("DE".into()),
            country: Some("Germany".into()),
            capacity: Some(1500),
        },
        deal: Deal {
            kind: DealType::Versus,
            currency: "EUR".into(),
            guarantee_amount: Some(1_250_000),
            percentage: Some(Percent::from_bp(8500)),
            percentage_basis: Some(PercentageBasis::Net),
            bonuses: vec![
                Bonus {
                    tickets_sold: 1400,
                    amount: 250_000,
                },
                Bonus {
                    tickets_sold: 1000,
                    amount: 100_000,
                },
            ],
            deposit_percent: Some(Percent::from_bp(3000)),
            deposit_due_date: Some(date(2027, 1, 15)),
            ticket_price: Some(3_500),
            capacity: Some(1450),
            set_length_minutes: Some(90),
            radius: Some(RadiusClause {
                km: 100,
                days_before: 60,
                days_after: 30,
            }),
            hospitality: Some(
                "Dressing room for six with a shower; hot meal for eight after soundcheck.".into(),
            ),
            travel: Some(
                "Ground transport for six from Hamburg Airport to the hotel and venue and back."
                    .into(),
            ),
            accommodation: Some(
                "Four double rooms in a four-star hotel near the venue, breakfast included.".into(),
            ),
        },
    }
}

/// [`sample_terms`] with a bare flat deal and every optional value absent:
/// the other trial render of [`check`], so a body cannot rely on a value
/// being there without an `{% if %}`.
pub(super) fn minimal_terms() -> Terms {
    let sample = sample_terms();
    let bare = |company: CompanyTerms| CompanyTerms {
        country_code: None,
        country: None,
        city: None,
        email: None,
        phone: None,
        website: None,
        ..company
    };
    Terms {
        artist: ArtistTerms {
            country_code: None,
            country: None,
            city: None,
            ..sample.artist
        },
        agency: bare(sample.agency),
        promoter: bare(sample.promoter),
        venue: VenueTerms {
            name: None,
            city: None,
            country_code: None,
            country: None,
            capacity: None,
        },
        deal: Deal {
            kind: DealType::Flat,
            currency: "EUR".into(),
            guarantee_amount: Some(500_000),
            percentage: None,
            percentage_basis: None,
            bonuses: Vec::new(),
            deposit_percent: None,
            deposit_due_date: None,
            ticket_price: None,
            capacity: None,
            set_length_minutes: None,
            radius: None,
            hospitality: None,
            travel: None,
            accommodation: None,
        },
        ..sample
    }
}

pub(super) fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

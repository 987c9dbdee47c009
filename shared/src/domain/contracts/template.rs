//! Contract templates: the variable catalogue, checking and rendering.
//!
//! A template body is Markdown with minijinja placeholders (`{{ deal.guarantee }}`,
//! `{% if deal.radius_km %}`, loops over `deal.bonuses`, filters). A contract
//! version is a body rendered with one booking's [`Terms`]; the rendered
//! Markdown is what gets hashed and signed, so rendering must stay:
//!
//! - closed: a body may name only the variables of [`VARIABLES`] (checked
//!   when it is saved), and a name outside the context fails the render
//!   instead of printing nothing (strict undefined);
//! - literal: every value is Markdown-escaped on output, so a party's free
//!   text (hospitality, a company name) cannot add headings, lists, links
//!   or HTML to the contract; a body cannot switch this off (`safe` is not
//!   available and the formatter escapes in every auto-escape mode);
//! - deterministic: money, percentages and dates are formatted here from
//!   integers and dates, never from the locale or the clock, so the same
//!   terms give the same bytes;
//! - bounded: bodies are at most [`MAX_BODY_BYTES`] and each render has a
//!   fixed work budget (minijinja fuel).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use chrono::{Days, NaiveDate};
use minijinja::syntax::SyntaxConfig;
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::booking::deal::basis_points;

use crate::domain::booking::bookings::BookingStatus;
use crate::domain::booking::deal::{Bonus, Deal, DealType, PercentageBasis};
use crate::domain::booking::offers::Venue;
use crate::{DomainError, FieldError};

/// The largest template body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 200 * 1024;

/// The work budget of one render: instructions plus roughly one unit per 64
/// bytes of data made. The starter agreement uses about 600 of it;
/// a body that exhausts it (a runaway loop) is refused when it is saved.
const FUEL: u64 = 100_000;

/// ISO 4217, as shipped in the reference data; gives the minor-unit
/// exponent and name of a currency without a database round trip, so a
/// render depends on its terms alone.
const CURRENCIES: &str = include_str!("../../../../reference/currencies.tsv");

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

/// One name a template may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Variable {
    /// Dotted, as written in a template: `deal.guarantee`.
    pub name: &'static str,
    pub description: &'static str,
    /// Its value with [`sample_terms`].
    pub example: &'static str,
}

const fn var(name: &'static str, description: &'static str, example: &'static str) -> Variable {
    Variable {
        name,
        description,
        example,
    }
}

/// Every variable a template may use. Each one is always in the render
/// context; an absent optional value is none, which prints as nothing and
/// is false in `{% if %}`. Money is formatted with its currency code and
/// the currency's ISO 4217 decimals; `*_minor` is the same amount as an
/// integer of minor units. Dates come long (`Saturday 13 March 2027`) and
/// as `*_iso` (`2027-03-13`).
#[rustfmt::skip]
pub const VARIABLES: &[Variable] = &[
    var("contract.title", "The title of the contract.", "Performance Agreement"),
    var("contract.reference", "The reference both parties quote: `K-`, the event date and eight characters of the booking id.", "K-20270313-5F6A7B8C"),
    var("contract.issued_on", "The date the contract is issued.", "Tuesday 1 December 2026"),
    var("contract.issued_on_iso", "The issue date, ISO 8601.", "2026-12-01"),
    var("booking.id", "The booking's id.", "0194a3b2-7c1d-7e2f-9a3b-4c5d5f6a7b8c"),
    var("booking.status", "The booking's status: confirmed, cancelled or completed.", "confirmed"),
    var("booking.event_date", "The date of the performance.", "Saturday 13 March 2027"),
    var("booking.event_date_iso", "The date of the performance, ISO 8601.", "2027-03-13"),
    var("artist.id", "The artist's id.", "0194a3b2-7c1d-7e2f-9a3b-000000000a01"),
    var("artist.name", "The artist's name.", "Nova Lux"),
    var("artist.country", "The artist's home country.", "Netherlands"),
    var("artist.country_code", "The artist's home country, ISO 3166-1 alpha-2.", "NL"),
    var("artist.city", "The artist's home city.", "Amsterdam"),
    var("agency.id", "The agency's id.", "0194a3b2-7c1d-7e2f-9a3b-000000000b01"),
    var("agency.name", "The representing agency.", "Northern Lights Artists"),
    var("agency.country", "The agency's country.", "Germany"),
    var("agency.country_code", "The agency's country, ISO 3166-1 alpha-2.", "DE"),
    var("agency.city", "The agency's city.", "Berlin"),
    var("agency.location", "The agency's city and country, as known.", "Berlin, Germany"),
    var("agency.email", "The agency's email address.", "bookings@northernlights.example"),
    var("agency.phone", "The agency's phone number.", "+49 30 1234567"),
    var("agency.website", "The agency's website.", "https://northernlights.example"),
    var("promoter.id", "The promoter's id.", "0194a3b2-7c1d-7e2f-9a3b-000000000c01"),
    var("promoter.name", "The promoter.", "Harbour Sound Events"),
    var("promoter.country", "The promoter's country.", "Germany"),
    var("promoter.country_code", "The promoter's country, ISO 3166-1 alpha-2.", "DE"),
    var("promoter.city", "The promoter's city.", "Hamburg"),
    var("promoter.location", "The promoter's city and country, as known.", "Hamburg, Germany"),
    var("promoter.email", "The promoter's email address.", "shows@harboursound.example"),
    var("promoter.phone", "The promoter's phone number.", "+49 40 7654321"),
    var("promoter.website", "The promoter's website.", "https://harboursound.example"),
    var("venue.name", "The venue's name.", "Grosse Freiheit 36"),
    var("venue.city", "The venue's city.", "Hamburg"),
    var("venue.country", "The venue's country.", "Germany"),
    var("venue.country_code", "The venue's country, ISO 3166-1 alpha-2.", "DE"),
    var("venue.location", "The venue's city and country, as known.", "Hamburg, Germany"),
    var("venue.capacity", "The venue's capacity (a number).", "1500"),
    var("deal.type", "The deal type: flat, versus, plus or door.", "versus"),
    var("deal.type_words", "The deal type in words.", "guarantee versus percentage, whichever is greater"),
    var("deal.compensation", "The artist's compensation in one phrase.", "a guarantee of EUR 12,500.00 versus 85% of net box office receipts, whichever is greater"),
    var("deal.currency", "The deal currency, ISO 4217.", "EUR"),
    var("deal.currency_name", "The deal currency's name.", "Euro"),
    var("deal.guarantee", "The guaranteed fee.", "EUR 12,500.00"),
    var("deal.guarantee_minor", "The guaranteed fee in minor units.", "1250000"),
    var("deal.percentage", "The artist's percentage.", "85%"),
    var("deal.percentage_bps", "The artist's percentage in basis points (hundredths of a percent).", "8500"),
    var("deal.percentage_basis", "What the percentage is of: gross or net.", "net"),
    var("deal.percentage_basis_words", "What the percentage is of, in words.", "net box office receipts"),
    var("deal.bonuses", "Bonuses by tickets sold, fewest first: a list whose items have `tickets_sold` (a number), `amount` and `amount_minor`; empty when there are none.", "tickets_sold 1000, amount EUR 1,000.00"),
    var("deal.deposit_percent", "The deposit as a percentage of the guarantee.", "30%"),
    var("deal.deposit_percent_bps", "The deposit percentage in basis points.", "3000"),
    var("deal.deposit", "The deposit: the guarantee times the deposit percentage, rounded half up to the minor unit. None without a guarantee or a deposit.", "EUR 3,750.00"),
    var("deal.deposit_minor", "The deposit in minor units.", "375000"),
    var("deal.deposit_due_date", "The date the deposit is due.", "Friday 15 January 2027"),
    var("deal.deposit_due_date_iso", "The deposit due date, ISO 8601.", "2027-01-15"),
    var("deal.balance", "The guarantee less the deposit (the whole guarantee without a deposit).", "EUR 8,750.00"),
    var("deal.balance_minor", "The balance in minor units.", "875000"),
    var("deal.ticket_price", "The ticket price.", "EUR 35.00"),
    var("deal.ticket_price_minor", "The ticket price in minor units.", "3500"),
    var("deal.capacity", "The capacity the deal is based on (a number).", "1450"),
    var("deal.gross_potential", "The ticket price times the deal capacity.", "EUR 50,750.00"),
    var("deal.gross_potential_minor", "The gross potential in minor units.", "5075000"),
    var("deal.set_length", "The length of the performance.", "90 minutes"),
    var("deal.set_length_minutes", "The length of the performance in minutes (a number).", "90"),
    var("deal.radius", "The radius clause in one phrase.", "within 100 km of the venue from 60 days before until 30 days after the performance date"),
    var("deal.radius_km", "The radius in kilometres (a number).", "100"),
    var("deal.radius_days_before", "Days before the performance the radius applies (a number).", "60"),
    var("deal.radius_days_after", "Days after the performance the radius applies (a number).", "30"),
    var("deal.radius_from", "The first day the radius applies.", "Tuesday 12 January 2027"),
    var("deal.radius_from_iso", "The first day the radius applies, ISO 8601.", "2027-01-12"),
    var("deal.radius_until", "The last day the radius applies.", "Monday 12 April 2027"),
    var("deal.radius_until_iso", "The last day the radius applies, ISO 8601.", "2027-04-12"),
    var("deal.hospitality", "Hospitality terms as the parties wrote them.", "Dressing room for six with a shower; hot meal for eight after soundcheck."),
    var("deal.travel", "Travel terms as the parties wrote them.", "Ground transport for six from Hamburg Airport to the hotel and venue and back."),
    var("deal.accommodation", "Accommodation terms as the parties wrote them.", "Four double rooms in a four-star hotel near the venue, breakfast included."),
];

/// A template an agency can start its library from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Starter {
    /// Stable key, for copying a starter into a library.
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub body: &'static str,
}

/// The starter templates; each passes [`check`].
pub const STARTERS: &[Starter] = &[Starter {
    key: "performance_agreement",
    name: "Performance agreement",
    description: "An engagement contract between the promoter and the agency on the artist's behalf: engagement, compensation, radius, hospitality and travel, riders, cancellation and force majeure, recording, merchandising, insurance, governing law and signatures.",
    body: include_str!("starters/performance_agreement.md"),
}];

/// Checks a template body before it is saved: its size, its syntax, that
/// every variable it names is in [`VARIABLES`], and that it renders with
/// [`sample_terms`] and with a minimal flat deal (which catches unknown
/// filters, bad attribute names on loop items and runaway loops). Returns
/// the variables it uses, sorted. Every problem is a 422 on `body`.
pub fn check(body: &str) -> Result<Vec<String>, DomainError> {
    let env = environment(body)?;
    let template = env
        .template_from_named_str("body", body)
        .map_err(|e| template_error(body, &e))?;
    let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
    let mut used = BTreeSet::new();
    let mut unknown = Vec::new();
    for name in template.undeclared_variables(true) {
        let root = name.split('.').next().unwrap_or(&name);
        if globals.contains(&root) {
            continue;
        }
        match catalogue_name(&name) {
            Some(known) => {
                used.insert(known.to_owned());
            }
            None => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(DomainError::Validation(
            unknown
                .iter()
                .map(|name| FieldError::new("body", unknown_message(body, name)))
                .collect(),
        ));
    }
    for terms in [sample_terms(), minimal_terms()] {
        template
            .render(context(&terms))
            .map_err(|e| template_error(body, &e))?;
    }
    Ok(used.into_iter().collect())
}

/// Renders a body with one booking's terms into the Markdown text of a
/// contract version. Strict: a name outside the context, a failing filter
/// or an exhausted work budget is a 422 on `body` naming the line, never a
/// silently blank clause. The same body and terms always give the same text.
pub fn render(body: &str, terms: &Terms) -> Result<String, DomainError> {
    let env = environment(body)?;
    env.template_from_named_str("body", body)
        .and_then(|template| template.render(context(terms)))
        .map_err(|e| template_error(body, &e))
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
        r#"SELECT b.id, b.event_date, b.status AS "status: BookingStatus", b.deal AS "deal: Json<Deal>",
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
        deal: row.deal.0,
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
            percentage: Some(85.0),
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
            deposit_percent: Some(30.0),
            deposit_due_date: Some(date(2027, 1, 15)),
            ticket_price: Some(3_500),
            capacity: Some(1450),
            set_length_minutes: Some(90),
            radius: Some(crate::domain::booking::deal::RadiusClause {
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
fn minimal_terms() -> Terms {
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

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// The one environment every check and render uses.
fn environment(body: &str) -> Result<Environment<'_>, DomainError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(DomainError::invalid(
            "body",
            format!("must be at most {} KB", MAX_BODY_BYTES / 1024),
        ));
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom(Cow::Borrowed("markdown")));
    env.set_formatter(write_markdown);
    env.set_fuel(Some(FUEL));
    env.remove_filter("safe");
    env.remove_global("debug");
    // Block tags on a line of their own leave no blank line behind.
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .context("template syntax configuration")?;
    env.set_syntax(syntax);
    Ok(env)
}

/// The formatter: none prints as nothing, a value made safe by the
/// `escape` filter as it is, anything else Markdown-escaped, whatever
/// auto-escape mode a body asks for.
fn write_markdown(out: &mut Output, _: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    match value.as_str() {
        Some(text) if value.is_safe() => out.write_str(text),
        _ => out.write_str(&escape_markdown(&value.to_string())),
    }
    .map_err(Error::from)
}

/// Markdown-escapes text so it renders literally wherever it lands: the
/// inline markup characters are backslash-escaped everywhere, and what
/// would open a block (`#`, `-`, `+`, `=`, `1.`) at the start of each line.
/// Lines are trimmed, blank lines dropped and line breaks kept as hard
/// breaks, so text cannot end the paragraph or list item it sits in.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty());
    for (i, line) in lines.enumerate() {
        if i > 0 {
            out.push_str("\\\n");
        }
        let marker = block_marker(line);
        for (at, c) in line.char_indices() {
            if c.is_control() && c != '\t' {
                continue;
            }
            let escape = match c {
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '$' => true,
                // Only an entity reference (`&amp;`, `&#42;`) is markup.
                '&' => line[at + 1..].starts_with(|n: char| n.is_ascii_alphanumeric() || n == '#'),
                _ => marker == Some(at),
            };
            if escape {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Where a character at the start of a line would open a heading, a list
/// item, a thematic break or a setext underline: `#`, `-`, `+` or `=` not
/// followed by a letter or digit (so `+49 30` and `-5` stay as they are),
/// or the `.`/`)` of `1. ` and `2) `.
fn block_marker(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    match bytes.first()? {
        b'#' | b'-' | b'+' | b'=' => {
            (!bytes.get(1).is_some_and(u8::is_ascii_alphanumeric)).then_some(0)
        }
        b'0'..=b'9' => {
            let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            let delimiter = matches!(bytes.get(digits), Some(b'.' | b')'));
            let then_space = matches!(bytes.get(digits + 1), None | Some(b' ' | b'\t'));
            (delimiter && then_space).then_some(digits)
        }
        _ => None,
    }
}

/// A template error as a 422 on `body`, with the line and the source text
/// the error points at.
fn template_error(body: &str, error: &Error) -> DomainError {
    let what = match error.kind() {
        ErrorKind::OutOfFuel => {
            "the template does too much work (a loop that runs too long?)".to_owned()
        }
        ErrorKind::UndefinedError => "names something that is not defined".to_owned(),
        kind => match error.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    let near = error
        .range()
        .and_then(|range| body.get(range))
        .map(str::trim)
        .filter(|text| !text.is_empty() && text.len() <= 80)
        .map(|text| format!(" (at `{text}`)"))
        .unwrap_or_default();
    let message = match error.line() {
        Some(line) => format!("line {line}: {what}{near}"),
        None => format!("{what}{near}"),
    };
    DomainError::invalid("body", message)
}

/// The catalogue entry (or group, such as `deal`) a used name resolves to:
/// itself, or the entry it reaches into (`artist.name.upper` is a method
/// call on `artist.name`, which the trial render then judges).
fn catalogue_name(name: &str) -> Option<&'static str> {
    VARIABLES.iter().find_map(|v| {
        let group = v.name.split('.').next().unwrap_or(v.name);
        if name == group {
            Some(group)
        } else if name == v.name
            || name
                .strip_prefix(v.name)
                .is_some_and(|rest| rest.starts_with('.'))
        {
            Some(v.name)
        } else {
            None
        }
    })
}

fn unknown_message(body: &str, name: &str) -> String {
    let line = body
        .lines()
        .position(|l| mentions(l, name))
        .map(|i| format!("line {}: ", i + 1))
        .unwrap_or_default();
    let hint = closest(name)
        .map(|known| format!("; did you mean {known}?"))
        .unwrap_or_default();
    format!("{line}unknown variable {name}{hint}")
}

/// Whether a line names `name` itself, not a longer name it begins
/// (`deal.guarante` is not in `deal.guarantee`).
fn mentions(line: &str, name: &str) -> bool {
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    line.match_indices(name).any(|(at, _)| {
        !line[..at].ends_with(is_name) && !line[at + name.len()..].starts_with(is_name)
    })
}

/// The catalogue name a misspelt one most likely meant: the only entry
/// ending in it (`guarantee` → `deal.guarantee`), else the entry of the same
/// group it extends (`deal.guarantee_amnt` → `deal.guarantee`), else the
/// nearest by edit distance when that is small for the length of the name.
fn closest(name: &str) -> Option<&'static str> {
    let leaf_of = |n: &'static str| n.rsplit('.').next().unwrap_or(n);
    let mut by_leaf = VARIABLES.iter().filter(|v| leaf_of(v.name) == name);
    if let (Some(only), None) = (by_leaf.next(), by_leaf.next()) {
        return Some(only.name);
    }
    let (group, leaf) = name.split_once('.').unwrap_or(("", name));
    let extended = VARIABLES
        .iter()
        .filter(|v| {
            v.name.split_once('.').is_some_and(|(g, l)| {
                g == group
                    && leaf
                        .strip_prefix(l)
                        .is_some_and(|rest| rest.starts_with('_'))
            })
        })
        .max_by_key(|v| v.name.len());
    if let Some(v) = extended {
        return Some(v.name);
    }
    let limit = (leaf.chars().count() / 3).max(1);
    VARIABLES
        .iter()
        .map(|v| (edit_distance(name, v.name), v.name))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, known)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The render context: [`values`] nested by their dotted names.
fn context(terms: &Terms) -> Value {
    let mut groups: BTreeMap<&str, BTreeMap<&str, Value>> = BTreeMap::new();
    for (name, value) in values(terms) {
        if let Some((group, key)) = name.split_once('.') {
            groups.entry(group).or_default().insert(key, value);
        }
    }
    Value::from(groups)
}

/// Every catalogue variable and its value for these terms; a test holds
/// the names equal to [`VARIABLES`].
fn values(terms: &Terms) -> Vec<(&'static str, Value)> {
    let Terms {
        contract,
        booking,
        artist,
        agency,
        promoter,
        venue,
        deal,
    } = terms;
    let money = |minor: Option<i64>| minor.map(|m| format_money(m, &deal.currency));
    let long = |d: Option<NaiveDate>| d.map(long_date);
    let iso = |d: Option<NaiveDate>| d.map(|d| d.to_string());

    let guarantee = deal.guarantee_amount;
    let percentage_bps = deal.percentage.map(basis_points);
    let deposit_bps = deal
        .deposit_percent
        .map(basis_points)
        .filter(|bps| *bps > 0);
    let deposit = guarantee
        .zip(deposit_bps)
        .map(|(g, bps)| deposit_minor(g, bps));
    let balance = guarantee.map(|g| g - deposit.unwrap_or(0));
    let gross_potential = deal
        .ticket_price
        .zip(deal.capacity)
        .map(|(price, capacity)| price.saturating_mul(i64::from(capacity)));
    let basis_words = deal.percentage_basis.map(|basis| match basis {
        PercentageBasis::Gross => "gross box office receipts",
        PercentageBasis::Net => "net box office receipts",
    });
    let percentage = percentage_bps.map(format_percent);
    let share = percentage.as_ref().map(|p| match basis_words {
        Some(words) => format!("{p} of {words}"),
        None => p.clone(),
    });
    let radius = deal.radius.as_ref();
    let radius_from = radius.and_then(|r| days_from(booking.event_date, -i64::from(r.days_before)));
    let radius_until = radius.and_then(|r| days_from(booking.event_date, i64::from(r.days_after)));
    let mut bonuses = deal.bonuses.clone();
    bonuses.sort_by_key(|b| b.tickets_sold);
    let bonuses: Vec<Value> = bonuses
        .iter()
        .map(|b| {
            Value::from(BTreeMap::from([
                ("tickets_sold", Value::from(b.tickets_sold)),
                (
                    "amount",
                    Value::from(format_money(b.amount, &deal.currency)),
                ),
                ("amount_minor", Value::from(b.amount)),
            ]))
        })
        .collect();

    let mut v: Vec<(&'static str, Value)> = vec![
        ("contract.title", Value::from(contract.title.as_str())),
        (
            "contract.reference",
            Value::from(contract.reference.as_str()),
        ),
        (
            "contract.issued_on",
            Value::from(long_date(contract.issued_on)),
        ),
        (
            "contract.issued_on_iso",
            Value::from(contract.issued_on.to_string()),
        ),
        ("booking.id", Value::from(booking.id.to_string())),
        ("booking.status", Value::from(booking.status.as_str())),
        (
            "booking.event_date",
            Value::from(long_date(booking.event_date)),
        ),
        (
            "booking.event_date_iso",
            Value::from(booking.event_date.to_string()),
        ),
        ("artist.id", Value::from(artist.id.to_string())),
        ("artist.name", Value::from(artist.name.as_str())),
        ("artist.country", Value::from(artist.country.clone())),
        (
            "artist.country_code",
            Value::from(artist.country_code.clone()),
        ),
        ("artist.city", Value::from(artist.city.clone())),
    ];
    for (names, company) in [
        (
            [
                "agency.id",
                "agency.name",
                "agency.country",
                "agency.country_code",
                "agency.city",
                "agency.location",
                "agency.email",
                "agency.phone",
                "agency.website",
            ],
            agency,
        ),
        (
            [
                "promoter.id",
                "promoter.name",
                "promoter.country",
                "promoter.country_code",
                "promoter.city",
                "promoter.location",
                "promoter.email",
                "promoter.phone",
                "promoter.website",
            ],
            promoter,
        ),
    ] {
        let fields = [
            Value::from(company.id.to_string()),
            Value::from(company.name.as_str()),
            Value::from(company.country.clone()),
            Value::from(company.country_code.clone()),
            Value::from(company.city.clone()),
            Value::from(location(
                company.city.as_deref(),
                company.country.as_deref(),
            )),
            Value::from(company.email.clone()),
            Value::from(company.phone.clone()),
            Value::from(company.website.clone()),
        ];
        v.extend(names.into_iter().zip(fields));
    }
    v.extend([
        ("venue.name", Value::from(venue.name.clone())),
        ("venue.city", Value::from(venue.city.clone())),
        ("venue.country", Value::from(venue.country.clone())),
        (
            "venue.country_code",
            Value::from(venue.country_code.clone()),
        ),
        (
            "venue.location",
            Value::from(location(venue.city.as_deref(), venue.country.as_deref())),
        ),
        ("venue.capacity", Value::from(venue.capacity)),
        ("deal.type", Value::from(deal_type_code(deal.kind))),
        ("deal.type_words", Value::from(deal_type_words(deal.kind))),
        (
            "deal.compensation",
            Value::from(compensation(
                deal.kind,
                money(guarantee).as_deref(),
                share.as_deref(),
            )),
        ),
        ("deal.currency", Value::from(deal.currency.as_str())),
        (
            "deal.currency_name",
            Value::from(currency_name(&deal.currency)),
        ),
        ("deal.guarantee", Value::from(money(guarantee))),
        ("deal.guarantee_minor", Value::from(guarantee)),
        ("deal.percentage", Value::from(percentage)),
        ("deal.percentage_bps", Value::from(percentage_bps)),
        (
            "deal.percentage_basis",
            Value::from(deal.percentage_basis.map(|b| match b {
                PercentageBasis::Gross => "gross",
                PercentageBasis::Net => "net",
            })),
        ),
        ("deal.percentage_basis_words", Value::from(basis_words)),
        ("deal.bonuses", Value::from(bonuses)),
        (
            "deal.deposit_percent",
            Value::from(deposit_bps.map(format_percent)),
        ),
        ("deal.deposit_percent_bps", Value::from(deposit_bps)),
        ("deal.deposit", Value::from(money(deposit))),
        ("deal.deposit_minor", Value::from(deposit)),
        (
            "deal.deposit_due_date",
            Value::from(long(deal.deposit_due_date)),
        ),
        (
            "deal.deposit_due_date_iso",
            Value::from(iso(deal.deposit_due_date)),
        ),
        ("deal.balance", Value::from(money(balance))),
        ("deal.balance_minor", Value::from(balance)),
        ("deal.ticket_price", Value::from(money(deal.ticket_price))),
        ("deal.ticket_price_minor", Value::from(deal.ticket_price)),
        ("deal.capacity", Value::from(deal.capacity)),
        ("deal.gross_potential", Value::from(money(gross_potential))),
        ("deal.gross_potential_minor", Value::from(gross_potential)),
        (
            "deal.set_length",
            Value::from(
                deal.set_length_minutes
                    .map(|m| plural(i64::from(m), "minute")),
            ),
        ),
        (
            "deal.set_length_minutes",
            Value::from(deal.set_length_minutes),
        ),
        (
            "deal.radius",
            Value::from(radius.map(|r| {
                format!(
                    "within {} km of the venue from {} before until {} after the performance date",
                    r.km,
                    plural(i64::from(r.days_before), "day"),
                    plural(i64::from(r.days_after), "day"),
                )
            })),
        ),
        ("deal.radius_km", Value::from(radius.map(|r| r.km))),
        (
            "deal.radius_days_before",
            Value::from(radius.map(|r| r.days_before)),
        ),
        (
            "deal.radius_days_after",
            Value::from(radius.map(|r| r.days_after)),
        ),
        ("deal.radius_from", Value::from(long(radius_from))),
        ("deal.radius_from_iso", Value::from(iso(radius_from))),
        ("deal.radius_until", Value::from(long(radius_until))),
        ("deal.radius_until_iso", Value::from(iso(radius_until))),
        ("deal.hospitality", Value::from(deal.hospitality.clone())),
        ("deal.travel", Value::from(deal.travel.clone())),
        (
            "deal.accommodation",
            Value::from(deal.accommodation.clone()),
        ),
    ]);
    v
}

fn deal_type_code(kind: DealType) -> &'static str {
    match kind {
        DealType::Flat => "flat",
        DealType::Versus => "versus",
        DealType::Plus => "plus",
        DealType::Door => "door",
    }
}

fn deal_type_words(kind: DealType) -> &'static str {
    match kind {
        DealType::Flat => "flat guarantee",
        DealType::Versus => "guarantee versus percentage, whichever is greater",
        DealType::Plus => "guarantee plus percentage",
        DealType::Door => "percentage of the door",
    }
}

/// The compensation in one phrase; a deal missing a part it should have
/// says what it has.
fn compensation(kind: DealType, guarantee: Option<&str>, share: Option<&str>) -> Option<String> {
    match (kind, guarantee, share) {
        (DealType::Versus, Some(g), Some(s)) => Some(format!(
            "a guarantee of {g} versus {s}, whichever is greater"
        )),
        (DealType::Plus, Some(g), Some(s)) => Some(format!("a guarantee of {g} plus {s}")),
        (DealType::Flat, Some(g), _) => Some(format!("a flat guarantee of {g}")),
        (_, Some(g), None) => Some(format!("a guarantee of {g}")),
        (_, _, Some(s)) => Some(s.to_owned()),
        (_, None, None) => None,
    }
}

fn location(city: Option<&str>, country: Option<&str>) -> Option<String> {
    match (city, country) {
        (Some(city), Some(country)) => Some(format!("{city}, {country}")),
        (one, other) => one.or(other).map(str::to_owned),
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn days_from(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    let magnitude = Days::new(days.unsigned_abs());
    if days < 0 {
        date.checked_sub_days(magnitude)
    } else {
        date.checked_add_days(magnitude)
    }
}

/// `Saturday 13 March 2027`: English, as contracts are written.
fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// `85%`, `12.5%`, `12.35%`, from basis points.
fn format_percent(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let abs = bps.unsigned_abs();
    let (whole, hundredths) = (abs / 100, abs % 100);
    match hundredths {
        0 => format!("{sign}{whole}%"),
        h if h.is_multiple_of(10) => format!("{sign}{whole}.{}%", h / 10),
        h => format!("{sign}{whole}.{h:02}%"),
    }
}

/// The deposit on a guarantee, in minor units: `guarantee * bps / 10000`,
/// rounded half up to the minor unit, in integers.
fn deposit_minor(guarantee: i64, bps: i64) -> i64 {
    let exact = i128::from(guarantee) * i128::from(bps);
    let rounded = (exact + 5_000).div_euclid(10_000);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// The ISO 4217 row of a currency: (minor-unit exponent, name).
fn currency(code: &str) -> Option<(u32, &'static str)> {
    CURRENCIES.lines().skip(1).find_map(|line| {
        let mut fields = line.split('\t');
        if fields.next()? != code {
            return None;
        }
        let name = fields.nth(1)?;
        let exponent = fields.next()?.trim().parse().ok()?;
        Some((exponent, name))
    })
}

fn currency_name(code: &str) -> Option<&'static str> {
    currency(code).map(|(_, name)| name)
}

/// `EUR 12,500.00`, `JPY 1,250,000`, `BHD 1,234.567`: the ISO code, the
/// whole units grouped by thousands and as many decimals as the currency
/// has minor units (two for a code the reference data lacks).
fn format_money(minor: i64, code: &str) -> String {
    let exponent = currency(code).map_or(2, |(exponent, _)| exponent);
    let scale = 10_u64.pow(exponent);
    let abs = minor.unsigned_abs();
    let digits = (abs / scale).to_string();
    let mut out = format!("{code} ");
    if minor < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if exponent > 0 {
        out.push_str(&format!(
            ".{:0width$}",
            abs % scale,
            width = exponent as usize
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn messages(error: DomainError) -> Vec<String> {
        match error {
            DomainError::Validation(errors) => {
                assert!(errors.iter().all(|e| e.field == "body"));
                errors.into_iter().map(|e| e.message).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn rendered(body: &str) -> String {
        render(body, &sample_terms()).unwrap()
    }

    #[test]
    fn the_context_holds_exactly_the_catalogue() {
        for terms in [sample_terms(), minimal_terms()] {
            let names: Vec<&str> = values(&terms).into_iter().map(|(n, _)| n).collect();
            let catalogue: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
            assert_eq!(names, catalogue);
        }
        let unique: BTreeSet<&str> = VARIABLES.iter().map(|v| v.name).collect();
        assert_eq!(unique.len(), VARIABLES.len());
    }

    #[test]
    fn catalogue_examples_are_the_sample_values() {
        for (name, value) in values(&sample_terms()) {
            if name == "deal.bonuses" {
                continue;
            }
            let example = VARIABLES.iter().find(|v| v.name == name).unwrap().example;
            assert_eq!(value.to_string(), example, "{name}");
        }
    }

    #[test]
    fn absent_values_are_none_and_print_nothing() {
        let terms = minimal_terms();
        let out = render(
            "[{{ deal.percentage }}][{{ deal.radius_km }}][{{ deal.deposit }}][{{ venue.name }}]\
             {% if deal.radius_km %}radius{% endif %}{% for b in deal.bonuses %}bonus{% endfor %}",
            &terms,
        )
        .unwrap();
        assert_eq!(out, "[][][][]");
    }

    #[test]
    fn unknown_variables_are_refused_by_name() {
        let body = "# Deal\n\nFee: {{ deal.guarantee }}\nAlso {{ deal.guarantee_amnt }} and {{ deal.guarante }} and {{ guarantee }}.\n";
        let errors = messages(check(body).unwrap_err());
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.iter().any(|m| {
            m == "line 4: unknown variable deal.guarantee_amnt; did you mean deal.guarantee?"
        }));
        assert!(errors.iter().any(|m| {
            m == "line 4: unknown variable deal.guarante; did you mean deal.guarantee?"
        }));
        assert!(
            errors
                .iter()
                .any(|m| m.contains("unknown variable guarantee; did you mean deal.guarantee?"))
        );
        let errors = messages(check("{{ nothing_like_this }}\n{{ deal.nope }}").unwrap_err());
        assert_eq!(
            errors,
            [
                "line 2: unknown variable deal.nope",
                "line 1: unknown variable nothing_like_this"
            ]
        );
        let errors = messages(check("{{ artst.name }}").unwrap_err());
        assert_eq!(
            errors,
            ["line 1: unknown variable artst.name; did you mean artist.name?"]
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let errors = messages(check("# Title\n\n{% if deal.radius_km %}\nradius\n").unwrap_err());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("line "), "{}", errors[0]);
        assert!(errors[0].contains("syntax error"), "{}", errors[0]);
        let errors = messages(check("ok\n{{ deal.guarantee }\n").unwrap_err());
        assert!(
            errors[0].starts_with("line 2: syntax error"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn loop_and_set_variables_and_globals_are_accepted() {
        let body = "{% for bonus in deal.bonuses %}- {{ loop.index }}. {{ bonus.tickets_sold }}: {{ bonus.amount }}\n{% endfor %}\
                    {% set fee = deal.guarantee %}{{ fee }}{% for i in range(2) %}{{ i }}{% endfor %}\
                    {% set ns = namespace(n=0) %}{{ ns.n }}{{ artist.name | upper }}";
        let used = check(body).unwrap();
        assert_eq!(used, ["artist.name", "deal.bonuses", "deal.guarantee"]);
    }

    #[test]
    fn bad_names_on_loop_items_and_unknown_filters_fail_the_trial_render() {
        let errors =
            messages(check("{% for b in deal.bonuses %}{{ b.tickets }}{% endfor %}").unwrap_err());
        assert!(errors[0].starts_with("line 1:"), "{}", errors[0]);
        let errors = messages(check("{{ artist.name | shout }}").unwrap_err());
        assert!(errors[0].contains("unknown filter"), "{}", errors[0]);
        let errors = messages(check("{{ deal.hospitality | safe }}").unwrap_err());
        assert!(errors[0].contains("unknown filter"), "{}", errors[0]);
    }

    #[test]
    fn rendering_is_strict() {
        let terms = sample_terms();
        for body in [
            "{{ deal.nope }}",
            "{{ nope }}",
            "{% if deal.nope %}x{% endif %}",
            "{% for b in deal.bonuses %}{{ b.nope }}{% endfor %}",
        ] {
            let errors = messages(render(body, &terms).unwrap_err());
            assert!(errors[0].starts_with("line 1:"), "{body}: {errors:?}");
        }
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let body =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let errors = messages(check(body).unwrap_err());
        assert!(errors[0].contains("too much work"), "{}", errors[0]);
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        let errors = messages(check(&big).unwrap_err());
        assert_eq!(errors, ["must be at most 200 KB"]);
    }

    #[test]
    fn free_text_is_escaped_for_markdown() {
        let mut terms = sample_terms();
        terms.deal.hospitality = Some("# Heading *x* <b>".into());
        assert_eq!(
            render("{{ deal.hospitality }}", &terms).unwrap(),
            "\\# Heading \\*x\\* \\<b\\>"
        );
        terms.deal.hospitality = Some(
            "  - rider: [link](http://x) `code` _em_ | ~s~ &amp; R&B\n\n\n1. first\n2) second\n   ---\n+ plus\n=== \\ $x$"
                .into(),
        );
        assert_eq!(
            render("Hospitality: {{ deal.hospitality }}\n", &terms).unwrap(),
            "Hospitality: \\- rider: \\[link\\](http://x) \\`code\\` \\_em\\_ \\| \\~s\\~ \\&amp; R\\&B\\\n\
             1\\. first\\\n2\\) second\\\n\\---\\\n\\+ plus\\\n\\=== \\\\ \\$x\\$\n"
        );
        for plain in [
            "12.5% of 1.000 & more",
            "+49 30 1234567",
            "-5 degrees",
            "#1 act",
            "2027-03-13",
        ] {
            assert_eq!(escape_markdown(plain), plain);
        }
        assert_eq!(
            escape_markdown("## x\n#\n2024. y\n-"),
            "\\## x\\\n\\#\\\n2024\\. y\\\n\\-"
        );
        // A value escaped explicitly is not escaped twice, and escaping cannot be turned off.
        terms.deal.hospitality = Some("*x*".into());
        assert_eq!(
            render(
                "{{ deal.hospitality | e }} {% autoescape false %}{{ deal.hospitality }}{% endautoescape %}",
                &terms
            )
            .unwrap(),
            "\\*x\\* \\*x\\*"
        );
    }

    #[test]
    fn template_markup_is_kept() {
        assert_eq!(
            rendered(
                "# {{ artist.name }}\n\n{% if deal.radius_km %}\n- radius {{ deal.radius_km }} km\n{% endif %}\n**{{ deal.guarantee }}**\n"
            ),
            "# Nova Lux\n\n- radius 100 km\n**EUR 12,500.00**\n"
        );
        assert_eq!(rendered("a{% if true %}b{% endif %}\nc"), "abc");
        assert_eq!(rendered("a{% if true %}b{% endif +%}\nc"), "ab\nc");
    }

    #[test]
    fn money_follows_the_currency_exponent() {
        assert_eq!(format_money(1_250_000, "EUR"), "EUR 12,500.00");
        assert_eq!(format_money(5, "EUR"), "EUR 0.05");
        assert_eq!(format_money(0, "USD"), "USD 0.00");
        assert_eq!(format_money(1_250_000, "JPY"), "JPY 1,250,000");
        assert_eq!(format_money(999, "KRW"), "KRW 999");
        assert_eq!(format_money(1_234_567, "BHD"), "BHD 1,234.567");
        assert_eq!(format_money(1_005, "KWD"), "KWD 1.005");
        assert_eq!(format_money(42, "TND"), "TND 0.042");
        assert_eq!(format_money(100, "XTS"), "XTS 1.00");
        assert_eq!(
            format_money(i64::MAX, "EUR"),
            "EUR 92,233,720,368,547,758.07"
        );
        assert_eq!(format_money(123_456_789_012, "GBP"), "GBP 1,234,567,890.12");
        assert_eq!(format_money(100_000, "GBP"), "GBP 1,000.00");
        assert_eq!(format_money(99_999, "GBP"), "GBP 999.99");
        assert_eq!(format_money(-150, "EUR"), "EUR -1.50");
        assert_eq!(currency_name("JPY"), Some("Yen"));
    }

    #[test]
    fn percentages_are_exact() {
        for (percent, text, bps) in [
            (85.0, "85%", 8500),
            (12.5, "12.5%", 1250),
            (12.35, "12.35%", 1235),
            (33.33, "33.33%", 3333),
            (0.1 + 0.2, "0.3%", 30),
            (0.05, "0.05%", 5),
            (100.0, "100%", 10000),
            (1.1 * 3.0, "3.3%", 330),
            (70.07, "70.07%", 7007),
        ] {
            assert_eq!(basis_points(percent), bps, "{percent}");
            assert_eq!(format_percent(basis_points(percent)), text, "{percent}");
        }
        let mut terms = sample_terms();
        terms.deal.percentage = Some(0.1 + 0.2);
        assert_eq!(
            render("{{ deal.percentage }} {{ deal.percentage_bps }}", &terms).unwrap(),
            "0.3% 30"
        );
    }

    #[test]
    fn the_deposit_is_integer_arithmetic_rounded_half_up() {
        assert_eq!(deposit_minor(1_250_000, 3000), 375_000);
        assert_eq!(deposit_minor(1_000_001, 5000), 500_001); // 500000.5 up
        assert_eq!(deposit_minor(999, 3333), 333); // 332.9667
        assert_eq!(deposit_minor(3, 5000), 2); // 1.5 up
        assert_eq!(deposit_minor(1, 4999), 0);
        assert_eq!(deposit_minor(777, 10_000), 777);
        assert_eq!(deposit_minor(i64::MAX, 10_000), i64::MAX);
        let mut terms = sample_terms();
        terms.deal.currency = "JPY".into();
        terms.deal.guarantee_amount = Some(1_000_001);
        terms.deal.deposit_percent = Some(33.33);
        assert_eq!(
            render(
                "{{ deal.deposit }} {{ deal.deposit_minor }} {{ deal.balance }} {{ deal.deposit_percent }}",
                &terms
            )
            .unwrap(),
            "JPY 333,300 333300 JPY 666,701 33.33%"
        );
        terms.deal.deposit_percent = Some(0.0);
        assert_eq!(
            render("[{{ deal.deposit }}][{{ deal.balance }}]", &terms).unwrap(),
            "[][JPY 1,000,001]"
        );
    }

    #[test]
    fn words_dates_and_bonuses() {
        assert_eq!(
            rendered(
                "{{ booking.event_date }} / {{ booking.event_date_iso }} / {{ deal.radius_from_iso }}"
            ),
            "Saturday 13 March 2027 / 2027-03-13 / 2027-01-12"
        );
        assert_eq!(
            rendered(
                "{% for b in deal.bonuses %}{{ b.tickets_sold }}={{ b.amount }} ({{ b.amount_minor }});{% endfor %}"
            ),
            "1000=EUR 1,000.00 (100000);1400=EUR 2,500.00 (250000);"
        );
        let mut terms = sample_terms();
        for (kind, percentage, guarantee, words) in [
            (
                DealType::Flat,
                None,
                Some(100),
                "a flat guarantee of EUR 1.00",
            ),
            (
                DealType::Plus,
                Some(10.0),
                Some(100),
                "a guarantee of EUR 1.00 plus 10% of net box office receipts",
            ),
            (
                DealType::Door,
                Some(70.0),
                None,
                "70% of net box office receipts",
            ),
        ] {
            terms.deal.kind = kind;
            terms.deal.percentage = percentage;
            terms.deal.guarantee_amount = guarantee;
            assert_eq!(render("{{ deal.compensation }}", &terms).unwrap(), words);
        }
        terms.deal.radius = Some(crate::domain::booking::deal::RadiusClause {
            km: 50,
            days_before: 1,
            days_after: 0,
        });
        terms.deal.set_length_minutes = Some(1);
        assert_eq!(
            render("{{ deal.radius }}; {{ deal.set_length }}", &terms).unwrap(),
            "within 50 km of the venue from 1 day before until 0 days after the performance date; 1 minute"
        );
    }

    #[test]
    fn the_starter_checks_and_renders() {
        let starter = STARTERS
            .iter()
            .find(|s| s.key == "performance_agreement")
            .unwrap();
        let used = check(starter.body).unwrap();
        assert!(used.contains(&"deal.radius".to_owned()), "{used:?}");
        let full = render(starter.body, &sample_terms()).unwrap();
        let bare = render(starter.body, &minimal_terms()).unwrap();
        for text in [&full, &bare] {
            assert!(text.starts_with("# Performance Agreement\n"), "{text}");
            assert!(text.contains("## Signatures"));
            assert!(!text.contains("\n\n\n"), "{text}");
            assert!(!text.contains("{{") && !text.contains("{%"));
            assert!(!text.split_whitespace().any(|w| w == "none"), "{text}");
        }
        for expected in [
            "EUR 12,500.00",
            "85% of net box office receipts",
            "EUR 3,750.00",
            "Friday 15 January 2027",
            "EUR 8,750.00",
            "100 km",
            "Grosse Freiheit 36",
            "1,000.00",
            "Saturday 13 March 2027",
        ] {
            assert!(full.contains(expected), "{expected} missing from\n{full}");
        }
        assert!(bare.contains("a flat guarantee of EUR 5,000.00"), "{bare}");
        for absent in ["radius", "deposit of", "Bonus", "%"] {
            assert!(!bare.contains(absent), "{absent} in\n{bare}");
        }
        let words = full.split_whitespace().count();
        assert!((1200..2500).contains(&words), "{words} words");
    }

    #[test]
    fn rendering_is_deterministic() {
        let terms = sample_terms();
        let body = STARTERS[0].body;
        let first = render(body, &terms).unwrap();
        for _ in 0..3 {
            assert_eq!(render(body, &terms).unwrap(), first);
        }
        let copy: Terms = serde_json::from_str(&serde_json::to_string(&terms).unwrap()).unwrap();
        assert_eq!(render(body, &copy).unwrap(), first);
    }

    #[test]
    fn references_come_from_the_booking() {
        assert_eq!(sample_terms().contract.reference, "K-20270313-5F6A7B8C");
    }

    /// `docs/contract-variables.md`, generated from the catalogue.
    fn catalogue_markdown() -> String {
        let mut out = String::from(
            "# Contract template variables\n\n\
             Generated from `shared/src/domain/contracts/template.rs` by its tests; do not edit.\n\
             Regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p kisum-shared --lib contracts::template`.\n\n\
             A template body is Markdown with [minijinja](https://docs.rs/minijinja) placeholders:\n\
             `{{ deal.guarantee }}`, `{% if deal.radius_km %}...{% endif %}`,\n\
             `{% for bonus in deal.bonuses %}...{% endfor %}`, filters such as `{{ artist.name | upper }}`.\n\n\
             - Only the names below may be used; any other is refused when the template is saved.\n\
             - Every name is always there. An absent value (a flat deal has no percentage) is *none*:\n  \
             it prints as nothing and is false in `{% if %}`.\n\
             - Values are Markdown-escaped when printed, so text written by a party prints literally.\n\
             - A block tag alone on its line (`{% if %}`, `{% endfor %}`) leaves no blank line behind;\n  \
             a block tag at the end of a line of text also removes that line break (write `+%}` to keep it).\n\
             - Money is the currency code and the amount with the currency's decimals (`EUR 12,500.00`,\n  \
             `JPY 1,250,000`); `*_minor` is the same amount in minor units. Dates are long\n  \
             (`Saturday 13 March 2027`) and ISO 8601 (`*_iso`).\n\n\
             | Variable | Description | Example |\n|---|---|---|\n",
        );
        for v in VARIABLES {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                v.name,
                v.description.replace('|', "\\|"),
                v.example.replace('|', "\\|")
            ));
        }
        out
    }

    #[test]
    fn the_variables_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/contract-variables.md");
        let current = catalogue_markdown();
        if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
            std::fs::write(path, &current).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == current,
            "docs/contract-variables.md is out of date: run `UPDATE_SNAPSHOTS=1 cargo test -p kisum-shared --lib contracts::template` and commit it"
        );
    }
}

//! The variable catalogue: every name a template may use, and its value
//! for one booking's terms.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use minijinja::Value;
use serde::Serialize;

use super::terms::Terms;
use crate::domain::booking::deal::{DealType, PercentageBasis};
use crate::money::{currency, deposit_minor, format_money, format_percent};

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

/// The render context: [`values`] nested by their dotted names.
pub(super) fn context(terms: &Terms) -> Value {
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
pub(super) fn values(terms: &Terms) -> Vec<(&'static str, Value)> {
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
    let percentage_bps = deal.percentage_bp();
    let deposit_bps = deal.deposit_bp().filter(|bps| *bps > 0);
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
            Value::from(currency(&deal.currency).map(|c| c.name)),
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
pub(super) fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

//! The deal of an offer, and the rules that make it possible.
//!
//! Percentages are exact ([`Percent`], read from the JSON number's text):
//! the API takes and shows `percentage` and `deposit_percent` as decimal
//! numbers with at most two decimals (`12.35`), and [`Deal::problems`]
//! refuses more, by field. In the database (`offer_versions.deal`,
//! `bookings.deal`) a deal is [`StoredDeal`]: the same object with
//! `percentage_bp` and `deposit_bp`, integer basis points (`1235`), so
//! nothing stored depends on decimal text. Rows written before that and
//! not convertible (more than two decimals, out of range) keep their
//! decimal keys; migration `20261206000100` lists them in
//! `deal_percentages_unconverted`, and they are still read exactly.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::money::{BP_PER_WHOLE, Percent};
use crate::reference::Refs;
use crate::{DomainError, FieldError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DealType {
    /// A fixed guarantee.
    Flat,
    /// The guarantee or a percentage, whichever is more.
    Versus,
    /// The guarantee plus a percentage.
    Plus,
    /// A percentage of the door only.
    Door,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PercentageBasis {
    Gross,
    Net,
}

/// A bonus paid once `tickets_sold` is reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bonus {
    pub tickets_sold: i64,
    pub amount: i64,
}

/// No other show within `km` of the venue, `days_before`/`days_after` the date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RadiusClause {
    pub km: i32,
    pub days_before: i32,
    pub days_after: i32,
}

/// Money is integer minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deal {
    #[serde(rename = "type")]
    pub kind: DealType,
    pub currency: String,
    #[serde(default)]
    pub guarantee_amount: Option<i64>,
    /// The artist's percentage: above 0, at most 100, two decimals at most.
    #[serde(default)]
    pub percentage: Option<Percent>,
    #[serde(default)]
    pub percentage_basis: Option<PercentageBasis>,
    #[serde(default)]
    pub bonuses: Vec<Bonus>,
    /// The deposit, a percentage of the guarantee: 0-100, two decimals at most.
    #[serde(default)]
    pub deposit_percent: Option<Percent>,
    #[serde(default)]
    pub deposit_due_date: Option<NaiveDate>,
    #[serde(default)]
    pub ticket_price: Option<i64>,
    #[serde(default)]
    pub capacity: Option<i32>,
    #[serde(default)]
    pub set_length_minutes: Option<i32>,
    #[serde(default)]
    pub radius: Option<RadiusClause>,
    #[serde(default)]
    pub hospitality: Option<String>,
    #[serde(default)]
    pub travel: Option<String>,
    #[serde(default)]
    pub accommodation: Option<String>,
}

impl Deal {
    /// Every reason the deal is impossible, as field errors under `deal.`.
    /// Pure: checked before anything is written.
    pub fn problems(&self, event_date: NaiveDate, today: NaiveDate) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: &str| {
            errors.push(FieldError::new(format!("deal.{field}"), message))
        };
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            err("currency", "must be an ISO 4217 code such as EUR");
        }
        let needs_guarantee = matches!(
            self.kind,
            DealType::Flat | DealType::Versus | DealType::Plus
        );
        match self.guarantee_amount {
            None if needs_guarantee => err("guarantee_amount", "is required for this deal type"),
            Some(g) if g < 0 => err("guarantee_amount", "must not be negative"),
            _ => {}
        }
        let needs_percentage = matches!(
            self.kind,
            DealType::Versus | DealType::Plus | DealType::Door
        );
        match (self.percentage.map(exact), needs_percentage) {
            (None, true) => err("percentage", "is required for a versus, plus or door deal"),
            (Some(_), false) => err("percentage", "a flat deal has no percentage"),
            (Some(Err(())), true) => err("percentage", "must have at most two decimals"),
            (Some(Ok(bp)), true) if !(1..=BP_PER_WHOLE).contains(&bp) => {
                err("percentage", "must be above 0 and at most 100")
            }
            _ => {}
        }
        if needs_percentage && self.percentage_basis.is_none() {
            err(
                "percentage_basis",
                "is required with a percentage (gross or net)",
            );
        }
        for (i, bonus) in self.bonuses.iter().enumerate() {
            if bonus.tickets_sold <= 0 || bonus.amount <= 0 {
                err(
                    &format!("bonuses[{i}]"),
                    "tickets_sold and amount must be positive",
                );
            }
        }
        match (self.deposit_percent.map(exact), self.deposit_due_date) {
            (Some(Err(())), _) => err("deposit_percent", "must have at most two decimals"),
            (Some(Ok(bp)), _) if !(0..=BP_PER_WHOLE).contains(&bp) => {
                err("deposit_percent", "must be between 0 and 100")
            }
            (Some(Ok(bp)), None) if bp > 0 => err("deposit_due_date", "is required with a deposit"),
            (None, Some(_)) => err("deposit_percent", "is required with a deposit due date"),
            _ => {}
        }
        if let Some(due) = self.deposit_due_date {
            if due > event_date {
                err("deposit_due_date", "must not be after the event");
            }
            if due < today {
                err("deposit_due_date", "must not be in the past");
            }
        }
        if self.ticket_price.is_some_and(|p| p < 0) {
            err("ticket_price", "must not be negative");
        }
        if self.capacity.is_some_and(|c| c <= 0) {
            err("capacity", "must be positive");
        }
        if self
            .set_length_minutes
            .is_some_and(|m| !(1..=600).contains(&m))
        {
            err("set_length_minutes", "must be between 1 and 600");
        }
        if let Some(r) = &self.radius
            && (!(0..=2000).contains(&r.km)
                || !(0..=365).contains(&r.days_before)
                || !(0..=365).contains(&r.days_after))
        {
            err("radius", "km must be 0-2000 and days 0-365");
        }
        for (field, text) in [
            ("hospitality", &self.hospitality),
            ("travel", &self.travel),
            ("accommodation", &self.accommodation),
        ] {
            if text.as_ref().is_some_and(|t| t.chars().count() > 5000) {
                err(field, "must be at most 5000 characters");
            }
        }
        errors
    }
}

/// Refuses a deal currency or a venue city the reference data does not
/// have (422 on `deal.currency`, `venue.city_id`); the database refuses
/// them too, this names the field first.
pub async fn check_references(
    conn: &mut PgConnection,
    deal: Option<&Deal>,
    venue_city_id: Option<i64>,
) -> Result<(), DomainError> {
    references(deal, venue_city_id).check(conn).await
}

/// The reference data a deal and its venue name: the deal's currency and
/// the venue's city, on the fields that name them.
pub fn references(deal: Option<&Deal>, venue_city_id: Option<i64>) -> Refs {
    let mut refs = Refs::new();
    refs.currency("deal.currency", deal.map(|d| d.currency.as_str()))
        .city("venue.city_id", venue_city_id);
    refs
}

/// Basis points of a percentage with at most two decimals (saturated far
/// outside any range, so a huge whole number reads as out of range), or
/// `Err` for more decimals.
fn exact(percent: Percent) -> Result<i64, ()> {
    match percent.basis_points() {
        Some(bp) => Ok(bp),
        None if percent.decimals() > 2 => Err(()),
        None => Ok(i64::MAX),
    }
}

impl Deal {
    /// The artist's percentage in basis points (8500 is 85%); `None`
    /// without one, or for one [`Deal::problems`] refuses.
    pub fn percentage_bp(&self) -> Option<i64> {
        self.percentage.and_then(Percent::basis_points)
    }

    /// The deposit percentage in basis points of the guarantee.
    pub fn deposit_bp(&self) -> Option<i64> {
        self.deposit_percent.and_then(Percent::basis_points)
    }

    /// The form this deal is written to the database in.
    pub fn stored(&self) -> StoredDeal {
        StoredDeal(self.clone())
    }
}

/// A [`Deal`] as the database holds it (`Json<StoredDeal>` in queries):
/// percentages as integer basis points, `percentage_bp` and `deposit_bp`.
/// A percentage that is not whole basis points (only in rows the
/// conversion reported, see the module doc) keeps its decimal key.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDeal(pub Deal);

impl From<StoredDeal> for Deal {
    fn from(stored: StoredDeal) -> Deal {
        stored.0
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DealRecord {
    #[serde(rename = "type")]
    kind: DealType,
    currency: String,
    #[serde(default)]
    guarantee_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percentage_bp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percentage: Option<Percent>,
    #[serde(default)]
    percentage_basis: Option<PercentageBasis>,
    #[serde(default)]
    bonuses: Vec<Bonus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deposit_bp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deposit_percent: Option<Percent>,
    #[serde(default)]
    deposit_due_date: Option<NaiveDate>,
    #[serde(default)]
    ticket_price: Option<i64>,
    #[serde(default)]
    capacity: Option<i32>,
    #[serde(default)]
    set_length_minutes: Option<i32>,
    #[serde(default)]
    radius: Option<RadiusClause>,
    #[serde(default)]
    hospitality: Option<String>,
    #[serde(default)]
    travel: Option<String>,
    #[serde(default)]
    accommodation: Option<String>,
}

/// Whole basis points when the percentage has them, else the decimal.
fn split(percent: Option<Percent>) -> (Option<i64>, Option<Percent>) {
    match percent.map(|p| (p, p.basis_points())) {
        Some((_, Some(bp))) => (Some(bp), None),
        Some((p, None)) => (None, Some(p)),
        None => (None, None),
    }
}

impl Serialize for StoredDeal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.0.clone();
        let (percentage_bp, percentage) = split(d.percentage);
        let (deposit_bp, deposit_percent) = split(d.deposit_percent);
        DealRecord {
            kind: d.kind,
            currency: d.currency,
            guarantee_amount: d.guarantee_amount,
            percentage_bp,
            percentage,
            percentage_basis: d.percentage_basis,
            bonuses: d.bonuses,
            deposit_bp,
            deposit_percent,
            deposit_due_date: d.deposit_due_date,
            ticket_price: d.ticket_price,
            capacity: d.capacity,
            set_length_minutes: d.set_length_minutes,
            radius: d.radius,
            hospitality: d.hospitality,
            travel: d.travel,
            accommodation: d.accommodation,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredDeal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let r = DealRecord::deserialize(deserializer)?;
        Ok(StoredDeal(Deal {
            kind: r.kind,
            currency: r.currency,
            guarantee_amount: r.guarantee_amount,
            percentage: r.percentage_bp.map(Percent::from_bp).or(r.percentage),
            percentage_basis: r.percentage_basis,
            bonuses: r.bonuses,
            deposit_percent: r.deposit_bp.map(Percent::from_bp).or(r.deposit_percent),
            deposit_due_date: r.deposit_due_date,
            ticket_price: r.ticket_price,
            capacity: r.capacity,
            set_length_minutes: r.set_length_minutes,
            radius: r.radius,
            hospitality: r.hospitality,
            travel: r.travel,
            accommodation: r.accommodation,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pct(text: &str) -> Option<Percent> {
        Some(text.parse().unwrap())
    }

    fn flat() -> Deal {
        Deal {
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
        }
    }

    fn fields(deal: &Deal) -> Vec<String> {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let show = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        deal.problems(show, today)
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn possible_deals_pass() {
        assert!(fields(&flat()).is_empty());
        let versus = Deal {
            kind: DealType::Versus,
            percentage: pct("85"),
            percentage_basis: Some(PercentageBasis::Net),
            deposit_percent: pct("50"),
            deposit_due_date: NaiveDate::from_ymd_opt(2026, 5, 1),
            ..flat()
        };
        assert!(fields(&versus).is_empty());
    }

    #[test]
    fn impossible_deals_are_refused() {
        let versus_without_percentage = Deal {
            kind: DealType::Versus,
            ..flat()
        };
        assert_eq!(
            fields(&versus_without_percentage),
            ["deal.percentage", "deal.percentage_basis"]
        );
        let deposit_over = Deal {
            deposit_percent: pct("120"),
            deposit_due_date: NaiveDate::from_ymd_opt(2026, 5, 1),
            ..flat()
        };
        assert_eq!(fields(&deposit_over), ["deal.deposit_percent"]);
        let fine_percentage = Deal {
            kind: DealType::Door,
            guarantee_amount: None,
            percentage: pct("12.345"),
            percentage_basis: Some(PercentageBasis::Gross),
            ..flat()
        };
        assert_eq!(fields(&fine_percentage), ["deal.percentage"]);
        let two_decimals = Deal {
            percentage: pct("33.33"),
            ..fine_percentage
        };
        assert!(fields(&two_decimals).is_empty());
        let flat_with_percentage = Deal {
            percentage: pct("10"),
            ..flat()
        };
        assert_eq!(fields(&flat_with_percentage), ["deal.percentage"]);
        let late_deposit = Deal {
            deposit_percent: pct("50"),
            deposit_due_date: NaiveDate::from_ymd_opt(2026, 7, 1),
            ..flat()
        };
        assert_eq!(fields(&late_deposit), ["deal.deposit_due_date"]);
        let no_guarantee = Deal {
            guarantee_amount: None,
            currency: "eur".into(),
            ..flat()
        };
        assert_eq!(
            fields(&no_guarantee),
            ["deal.currency", "deal.guarantee_amount"]
        );
    }

    #[test]
    fn deposits_with_more_than_two_decimals_are_refused_by_name() {
        let fine_deposit = Deal {
            deposit_percent: pct("33.333"),
            deposit_due_date: NaiveDate::from_ymd_opt(2026, 5, 1),
            ..flat()
        };
        assert_eq!(fields(&fine_deposit), ["deal.deposit_percent"]);
        let exponent = Deal {
            deposit_percent: pct("3.3333e1"),
            ..fine_deposit.clone()
        };
        assert_eq!(fields(&exponent), ["deal.deposit_percent"]);
        let exact = Deal {
            deposit_percent: pct("3333e-2"),
            ..fine_deposit
        };
        assert!(fields(&exact).is_empty());
        assert_eq!(exact.deposit_bp(), Some(3333));
        let huge = Deal {
            deposit_percent: pct("100000000000000000"),
            ..exact
        };
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let problems = huge.problems(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(), today);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].message, "must be between 0 and 100");
    }

    #[test]
    fn the_api_shows_the_digits_and_the_database_holds_basis_points() {
        let text = r#"{"type":"versus","currency":"EUR","guarantee_amount":100,"percentage":12.35,"percentage_basis":"net","deposit_percent":33.33,"deposit_due_date":"2026-05-01"}"#;
        let deal: Deal = serde_json::from_str(text).unwrap();
        assert_eq!(
            (deal.percentage_bp(), deal.deposit_bp()),
            (Some(1235), Some(3333))
        );
        let shown = serde_json::to_string(&deal).unwrap();
        assert!(shown.contains(r#""percentage":12.35,"#), "{shown}");
        assert!(shown.contains(r#""deposit_percent":33.33,"#), "{shown}");
        let stored = serde_json::to_value(deal.stored()).unwrap();
        assert_eq!(stored["percentage_bp"], 1235);
        assert_eq!(stored["deposit_bp"], 3333);
        assert!(stored.get("percentage").is_none() && stored.get("deposit_percent").is_none());
        let back: StoredDeal = serde_json::from_value(stored).unwrap();
        assert_eq!(back.0, deal);
        // The API takes no basis-point keys, the database no stray ones.
        let with_bp = text.replace(r#""percentage":12.35"#, r#""percentage_bp":1235"#);
        assert!(serde_json::from_str::<Deal>(&with_bp).is_err());
        assert!(
            serde_json::from_str::<StoredDeal>(r#"{"type":"flat","currency":"EUR","fee":1}"#)
                .is_err()
        );
        // A row the migration could not convert is read, and written back, as it is.
        let legacy: StoredDeal =
            serde_json::from_str(r#"{"type":"door","currency":"EUR","percentage":33.333}"#)
                .unwrap();
        assert_eq!(
            legacy.0.percentage.map(|p| p.to_string()),
            Some("33.333".into())
        );
        let again = serde_json::to_string(&legacy).unwrap();
        assert!(again.contains(r#""percentage":33.333"#), "{again}");
    }
}

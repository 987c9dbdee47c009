//! Territories of representation: worldwide, or a set of areas (ISO 3166-1
//! countries such as `NL`, ISO 3166-2 regions such as `US-CA`).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;

/// A territory as requested: worldwide, or countries and/or markets.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerritoryIn {
    #[serde(default)]
    pub worldwide: bool,
    /// ISO 3166-1 alpha-2 codes.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Markets; each stands for its countries and regions.
    #[serde(default)]
    pub market_ids: Vec<Uuid>,
}

/// A resolved territory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Territory {
    pub worldwide: bool,
    /// Countries and regions covered (empty when worldwide).
    pub areas: Vec<String>,
    pub market_ids: Vec<Uuid>,
}

impl Territory {
    /// Whether two territories share any place.
    pub fn overlaps(&self, other: &Territory) -> bool {
        if self.worldwide || other.worldwide {
            return true;
        }
        self.areas
            .iter()
            .any(|a| other.areas.iter().any(|b| areas_overlap(a, b)))
    }
}

/// `NL` overlaps `NL`; a country overlaps its regions (`US` and `US-CA`).
fn areas_overlap(a: &str, b: &str) -> bool {
    a == b
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('-'))
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('-'))
}

/// Validates and expands a requested territory; unknown countries or
/// markets are field errors on `field`.
pub async fn resolve(
    conn: &mut PgConnection,
    field: &str,
    input: &TerritoryIn,
) -> Result<Territory, DomainError> {
    if input.worldwide {
        if !input.countries.is_empty() || !input.market_ids.is_empty() {
            return Err(DomainError::invalid(
                field,
                "worldwide excludes countries and markets",
            ));
        }
        return Ok(Territory {
            worldwide: true,
            areas: Vec::new(),
            market_ids: Vec::new(),
        });
    }
    let countries: Vec<String> = input
        .countries
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .collect();
    if countries.is_empty() && input.market_ids.is_empty() {
        return Err(DomainError::invalid(
            field,
            "name worldwide, countries or markets",
        ));
    }
    let known = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM countries WHERE code = ANY($1::text[])"#,
        &countries
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut distinct = countries.clone();
    distinct.sort();
    distinct.dedup();
    if known != i64::try_from(distinct.len()).unwrap_or(i64::MAX) {
        return Err(DomainError::invalid(
            field,
            "countries must be ISO 3166-1 alpha-2 codes",
        ));
    }
    let mut market_ids = input.market_ids.clone();
    market_ids.sort_unstable();
    market_ids.dedup();
    let market_areas = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM markets WHERE id = ANY($1)) AS "markets!",
                  ARRAY(SELECT country_code::text FROM market_countries WHERE market_id = ANY($1)
                        UNION SELECT region_code FROM market_regions WHERE market_id = ANY($1)) AS "areas!""#,
        &market_ids
    )
    .fetch_one(&mut *conn)
    .await?;
    if market_areas.markets != i64::try_from(market_ids.len()).unwrap_or(i64::MAX) {
        return Err(DomainError::invalid(
            field,
            "market_ids must name existing markets",
        ));
    }
    let mut areas = distinct;
    areas.extend(market_areas.areas);
    areas.sort();
    areas.dedup();
    Ok(Territory {
        worldwide: false,
        areas,
        market_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(areas: &[&str]) -> Territory {
        Territory {
            worldwide: false,
            areas: areas.iter().map(|a| (*a).to_owned()).collect(),
            market_ids: Vec::new(),
        }
    }

    #[test]
    fn overlap_rules() {
        let world = Territory {
            worldwide: true,
            areas: Vec::new(),
            market_ids: Vec::new(),
        };
        assert!(world.overlaps(&t(&["NL"])));
        assert!(t(&["NL", "BE"]).overlaps(&t(&["BE"])));
        assert!(!t(&["NL"]).overlaps(&t(&["DE"])));
        assert!(t(&["US"]).overlaps(&t(&["US-CA"])));
        assert!(t(&["US-CA"]).overlaps(&t(&["US"])));
        assert!(!t(&["US-CA"]).overlaps(&t(&["US-NY"])));
        assert!(!t(&["US"]).overlaps(&t(&["USA"])));
    }
}

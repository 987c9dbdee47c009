//! Territories of representation: worldwide, or a set of areas (ISO 3166-1
//! countries such as `NL`, ISO 3166-2 regions such as `US-CA`).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::reference::Refs;

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

/// Validates and expands a requested territory; an unknown country or
/// market is a field error on `{field}.countries[i]` or
/// `{field}.market_ids[i]`.
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
    let mut refs = Refs::new();
    for (i, code) in countries.iter().enumerate() {
        refs.country(format!("{field}.countries[{i}]"), Some(code));
    }
    for (i, id) in input.market_ids.iter().enumerate() {
        refs.market(format!("{field}.market_ids[{i}]"), Some(*id));
    }
    refs.check(&mut *conn).await?;
    let mut distinct = countries;
    distinct.sort();
    distinct.dedup();
    let mut market_ids = input.market_ids.clone();
    market_ids.sort_unstable();
    market_ids.dedup();
    let market_areas = sqlx::query_scalar!(
        r#"SELECT ARRAY(SELECT country_code::text FROM market_countries WHERE market_id = ANY($1)
                        UNION SELECT region_code FROM market_regions WHERE market_id = ANY($1)) AS "areas!""#,
        &market_ids
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut areas = distinct;
    areas.extend(market_areas);
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

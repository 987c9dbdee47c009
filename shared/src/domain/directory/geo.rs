//! Reference data reads: countries, currencies, cities, markets, genres.

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::pagination::{Page, PageRequest};
use crate::reference::Refs;
use crate::unnamed::Unnamed;
use crate::{DomainError, FieldError};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Country {
    /// ISO 3166-1 alpha-2.
    pub code: String,
    pub alpha3: String,
    pub name: String,
    pub official_name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Currency {
    /// ISO 4217.
    pub code: String,
    pub name: String,
    /// Digits after the decimal point; amounts are integers of minor units.
    pub minor_units: i16,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct City {
    /// GeoNames id.
    pub id: i64,
    pub name: String,
    pub country: String,
    /// ISO 3166-2 code of its first-level region, where known.
    pub region: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub population: i32,
    pub timezone: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MarketSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Market {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// Countries wholly in the market.
    pub countries: Vec<String>,
    /// ISO 3166-2 regions in the market (for markets within a country).
    pub regions: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Genre {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// Subgenres; empty for a subgenre.
    #[schema(no_recursion)]
    pub subgenres: Vec<Genre>,
}

pub async fn countries(
    conn: &mut PgConnection,
    q: Option<&str>,
) -> Result<Vec<Country>, DomainError> {
    // Generic plan: countries is a small reference table, read whole with or without a filter.
    Ok(sqlx::query_as!(
        Country,
        r#"SELECT code::text AS "code!", alpha3::text AS "alpha3!", name, official_name FROM countries
            WHERE $1::text IS NULL OR kisum_fold(name) LIKE '%' || kisum_fold($1) || '%' OR code = upper($1)
            ORDER BY name"#,
        q
    )
    .fetch_all(conn)
    .await?)
}

pub async fn currencies(conn: &mut PgConnection) -> Result<Vec<Currency>, DomainError> {
    Ok(sqlx::query_as!(
        Currency,
        r#"SELECT code::text AS "code!", name, minor_units FROM currencies ORDER BY code"#
    )
    .fetch_all(conn)
    .await?)
}

/// Cities by population (largest first), or by name similarity with `q`.
/// The cursor is (population, id).
pub async fn cities(
    conn: &mut PgConnection,
    country: Option<&str>,
    q: Option<&str>,
    page: &PageRequest<(i32, i64)>,
) -> Result<Page<City>, DomainError> {
    Refs::new()
        .country("country", country)
        .check(&mut *conn)
        .await?;
    let (after_population, after_id) = page.after.unzip();
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        City,
        r#"SELECT id, name, country_code::text AS "country!", region_code AS region, latitude, longitude, population, timezone
             FROM cities
            WHERE ($1::text IS NULL OR country_code = $1)
              AND ($2::text IS NULL OR kisum_fold(name) LIKE kisum_fold($2) || '%' OR kisum_fold(name) % kisum_fold($2))
              AND ($3::int IS NULL OR (population, id) < ($3, $4::bigint))
            ORDER BY population DESC, id DESC
            LIMIT $5"#,
        country,
        q,
        after_population,
        after_id,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    Ok(Page::from_rows(rows, page.limit, |c| (c.population, c.id)))
}

pub async fn markets(conn: &mut PgConnection) -> Result<Vec<MarketSummary>, DomainError> {
    Ok(sqlx::query_as!(
        MarketSummary,
        "SELECT id, slug, name FROM markets ORDER BY name"
    )
    .fetch_all(conn)
    .await?)
}

/// A market by id or slug.
pub async fn market(conn: &mut PgConnection, key: &str) -> Result<Market, DomainError> {
    let id = Uuid::parse_str(key).ok();
    let row = sqlx::query!(
        r#"SELECT m.id, m.slug, m.name,
                  ARRAY(SELECT country_code::text FROM market_countries WHERE market_id = m.id ORDER BY 1) AS "countries!",
                  ARRAY(SELECT region_code FROM market_regions WHERE market_id = m.id ORDER BY 1) AS "regions!"
             FROM markets m WHERE m.id = $1 OR m.slug = $2"#,
        id,
        key,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    Ok(Market {
        id: row.id,
        slug: row.slug,
        name: row.name,
        countries: row.countries,
        regions: row.regions,
    })
}

/// The genre tree: top-level genres with their subgenres, in taxonomy order.
pub async fn genres(conn: &mut PgConnection) -> Result<Vec<Genre>, DomainError> {
    let rows = sqlx::query!("SELECT id, slug, name, parent_id FROM genres ORDER BY position")
        .fetch_all(conn)
        .await?;
    let mut tree: Vec<Genre> = Vec::new();
    for row in &rows {
        if row.parent_id.is_none() {
            tree.push(Genre {
                id: row.id,
                slug: row.slug.clone(),
                name: row.name.clone(),
                subgenres: Vec::new(),
            });
        }
    }
    for row in rows {
        if let Some(parent) = row.parent_id
            && let Some(node) = tree.iter_mut().find(|g| g.id == parent)
        {
            node.subgenres.push(Genre {
                id: row.id,
                slug: row.slug,
                name: row.name,
                subgenres: Vec::new(),
            });
        }
    }
    Ok(tree)
}

/// Genre ids for slugs or ids, in one query; each unknown one is a field
/// error on `{field}[i]`.
pub async fn resolve_genres(
    conn: &mut PgConnection,
    field: &str,
    keys: &[String],
) -> Result<Vec<Uuid>, DomainError> {
    let (ids, unknown) = lookup_genres(conn, keys).await?;
    if !unknown.is_empty() {
        return Err(DomainError::Validation(
            unknown
                .into_iter()
                .map(|i| FieldError::new(format!("{field}[{i}]"), "is not a known genre"))
                .collect(),
        ));
    }
    Ok(ids)
}

/// The id of one genre (a filter), by slug or id; unknown is a field error
/// on `field`.
pub async fn resolve_genre(
    conn: &mut PgConnection,
    field: &str,
    key: &str,
) -> Result<Uuid, DomainError> {
    let (ids, _) = lookup_genres(conn, &[key.to_owned()]).await?;
    ids.first()
        .copied()
        .ok_or_else(|| DomainError::invalid(field, "is not a known genre"))
}

/// Known genre ids (sorted, distinct) and the positions of unknown keys.
async fn lookup_genres(
    conn: &mut PgConnection,
    keys: &[String],
) -> Result<(Vec<Uuid>, Vec<usize>), DomainError> {
    if keys.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let rows = sqlx::query!(
        "SELECT id, slug FROM genres WHERE slug = ANY($1) OR id::text = ANY($1)",
        keys
    )
    .fetch_all(conn)
    .await?;
    let unknown: Vec<usize> = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| {
            !rows
                .iter()
                .any(|r| &r.slug == *k || r.id.to_string() == **k)
        })
        .map(|(i, _)| i)
        .collect();
    let mut ids: Vec<Uuid> = rows.into_iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok((ids, unknown))
}

/// Fills the country from the city, and refuses an unknown country or
/// city (fields `country`, `city_id`) or a city of another country.
pub async fn place(
    conn: &mut PgConnection,
    country: Option<String>,
    city_id: Option<i64>,
) -> Result<Option<String>, DomainError> {
    Refs::new()
        .country("country", country.as_deref())
        .city("city_id", city_id)
        .check(&mut *conn)
        .await?;
    let Some(city_id) = city_id else {
        return Ok(country);
    };
    let city_country = sqlx::query_scalar!(
        "SELECT country_code::text FROM cities WHERE id = $1",
        city_id
    )
    .fetch_optional(conn)
    .await?
    .flatten()
    .ok_or_else(|| DomainError::invalid("city_id", "is not a known city"))?;
    match country {
        Some(c) if c != city_country => Err(DomainError::invalid(
            "city_id",
            "is not in the given country",
        )),
        _ => Ok(Some(city_country)),
    }
}

//! Reference data shipped with the project (`reference/`): ISO 3166-1
//! countries, ISO 3166-2 top-level regions, ISO 4217 currencies, GeoNames
//! cities above 15,000 inhabitants, a two-level genre taxonomy and the
//! default markets. Embedded in the binary and loaded by `migrate`; each
//! dataset is upserted only when its checksum changed, so loading is
//! idempotent and cheap on every start.

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::money::CURRENCIES;
use crate::text::slugify;
use crate::{DomainError, FieldError};

const COUNTRIES: &str = include_str!("../../reference/countries.tsv");
const REGIONS: &str = include_str!("../../reference/regions.tsv");
const CITIES: &str = include_str!("../../reference/cities.tsv");
const GENRES: &str = include_str!("../../reference/genres.txt");
const MARKETS: &str = include_str!("../../reference/markets.tsv");

/// Rows per statement when loading large datasets.
const CHUNK: usize = 5000;

/// A digest of every shipped dataset (test templates are keyed by it).
pub fn digest() -> String {
    let mut hasher = Sha256::new();
    for text in [COUNTRIES, CURRENCIES, REGIONS, CITIES, GENRES, MARKETS] {
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Loads every dataset that changed since the last load, in dependency order.
pub async fn load(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // One loader at a time (api and worker may both migrate at start).
    sqlx::query!("SELECT pg_advisory_xact_lock(720414)")
        .execute(&mut *tx)
        .await?;
    let datasets = [
        ("countries", COUNTRIES),
        ("currencies", CURRENCIES),
        ("regions", REGIONS),
        ("cities", CITIES),
        ("genres", GENRES),
        ("markets", MARKETS),
    ];
    for (name, text) in datasets {
        let checksum = hex::encode(Sha256::digest(text.as_bytes()));
        let current = sqlx::query_scalar!(
            "SELECT checksum FROM reference_data_loads WHERE dataset = $1",
            name
        )
        .fetch_optional(&mut *tx)
        .await?;
        if current.as_deref() == Some(checksum.as_str()) {
            continue;
        }
        let rows = match name {
            "countries" => load_countries(&mut tx, text).await,
            "currencies" => load_currencies(&mut tx, text).await,
            "regions" => load_regions(&mut tx, text).await,
            "cities" => load_cities(&mut tx, text).await,
            "genres" => load_genres(&mut tx, text).await,
            _ => load_markets(&mut tx, text).await,
        }
        .with_context(|| format!("loading reference data {name}"))?;
        sqlx::query!(
            "INSERT INTO reference_data_loads (dataset, checksum, rows) VALUES ($1, $2, $3)
             ON CONFLICT (dataset) DO UPDATE SET checksum = $2, rows = $3, loaded_at = now()",
            name,
            checksum,
            i32::try_from(rows).unwrap_or(i32::MAX),
        )
        .execute(&mut *tx)
        .await?;
        tracing::info!(dataset = name, rows, "reference data loaded");
    }
    tx.commit().await?;
    Ok(())
}

/// Data lines of a TSV file (header and `#` comments skipped), split by tab.
fn tsv(text: &str, columns: usize) -> anyhow::Result<Vec<Vec<&str>>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() != columns {
                bail!(
                    "line {}: {} fields, expected {columns}",
                    i + 2,
                    fields.len()
                );
            }
            Ok(fields)
        })
        .collect()
}

async fn load_countries(conn: &mut PgConnection, text: &str) -> anyhow::Result<usize> {
    let rows = tsv(text, 5)?;
    let col = |i: usize| rows.iter().map(|r| r[i].to_owned()).collect::<Vec<_>>();
    sqlx::query!(
        "INSERT INTO countries (code, alpha3, numeric_code, name, official_name)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT (code) DO UPDATE SET alpha3 = EXCLUDED.alpha3, numeric_code = EXCLUDED.numeric_code,
             name = EXCLUDED.name, official_name = EXCLUDED.official_name",
        &col(0),
        &col(1),
        &col(2),
        &col(3),
        &col(4),
    )
    .execute(&mut *conn)
    .await?;
    Ok(rows.len())
}

async fn load_currencies(conn: &mut PgConnection, text: &str) -> anyhow::Result<usize> {
    let rows = tsv(text, 4)?;
    let col = |i: usize| rows.iter().map(|r| r[i].to_owned()).collect::<Vec<_>>();
    let minor: Vec<i16> = rows
        .iter()
        .map(|r| r[3].parse())
        .collect::<Result<_, _>>()
        .context("minor_units")?;
    sqlx::query!(
        "INSERT INTO currencies (code, numeric_code, name, minor_units)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::smallint[])
         ON CONFLICT (code) DO UPDATE SET numeric_code = EXCLUDED.numeric_code,
             name = EXCLUDED.name, minor_units = EXCLUDED.minor_units",
        &col(0),
        &col(1),
        &col(2),
        &minor,
    )
    .execute(&mut *conn)
    .await?;
    Ok(rows.len())
}

async fn load_regions(conn: &mut PgConnection, text: &str) -> anyhow::Result<usize> {
    let rows = tsv(text, 4)?;
    let col = |i: usize| rows.iter().map(|r| r[i].to_owned()).collect::<Vec<_>>();
    sqlx::query!(
        "INSERT INTO regions (code, country_code, name, kind)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (code) DO UPDATE SET country_code = EXCLUDED.country_code,
             name = EXCLUDED.name, kind = EXCLUDED.kind",
        &col(0),
        &col(1),
        &col(2),
        &col(3),
    )
    .execute(&mut *conn)
    .await?;
    Ok(rows.len())
}

async fn load_cities(conn: &mut PgConnection, text: &str) -> anyhow::Result<usize> {
    let rows = tsv(text, 8)?;
    for chunk in rows.chunks(CHUNK) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut names = Vec::with_capacity(chunk.len());
        let mut countries = Vec::with_capacity(chunk.len());
        let mut regions: Vec<Option<String>> = Vec::with_capacity(chunk.len());
        let mut lats = Vec::with_capacity(chunk.len());
        let mut lons = Vec::with_capacity(chunk.len());
        let mut populations = Vec::with_capacity(chunk.len());
        let mut zones = Vec::with_capacity(chunk.len());
        for r in chunk {
            ids.push(r[0].parse::<i64>().context("geonameid")?);
            names.push(r[1].to_owned());
            countries.push(r[2].to_owned());
            regions.push(Some(r[3]).filter(|s| !s.is_empty()).map(str::to_owned));
            lats.push(r[4].parse::<f64>().context("latitude")?);
            lons.push(r[5].parse::<f64>().context("longitude")?);
            populations.push(r[6].parse::<i32>().context("population")?);
            zones.push(r[7].to_owned());
        }
        sqlx::query!(
            "INSERT INTO cities (id, name, country_code, region_code, latitude, longitude, population, timezone)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[],
                                  $5::float8[], $6::float8[], $7::int[], $8::text[])
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, country_code = EXCLUDED.country_code,
                 region_code = EXCLUDED.region_code, latitude = EXCLUDED.latitude,
                 longitude = EXCLUDED.longitude, population = EXCLUDED.population,
                 timezone = EXCLUDED.timezone",
            &ids,
            &names,
            &countries,
            &regions as &[Option<String>],
            &lats,
            &lons,
            &populations,
            &zones,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len())
}

/// `parent: child, child, ...` lines; parents are genres too.
fn parse_genres(text: &str) -> anyhow::Result<Vec<(String, String, Option<String>)>> {
    let mut genres = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (parent, children) = line
            .split_once(':')
            .with_context(|| format!("genre line without ':' {line:?}"))?;
        let parent = parent.trim();
        let parent_slug = slugify(parent);
        let mut push = |name: &str, parent: Option<&str>| -> anyhow::Result<()> {
            let slug = slugify(name);
            if !seen.insert(slug.clone()) {
                bail!("genre {name:?} appears twice");
            }
            genres.push((slug, name.to_owned(), parent.map(str::to_owned)));
            Ok(())
        };
        push(parent, None)?;
        for child in children.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            push(child, Some(&parent_slug))?;
        }
    }
    Ok(genres)
}

async fn load_genres(conn: &mut PgConnection, text: &str) -> anyhow::Result<usize> {
    let genres = parse_genres(text)?;
    for (position, (slug, name, parent)) in genres.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO genres (id, slug, name, parent_id, position)
             VALUES ($1, $2, $3, (SELECT id FROM genres WHERE slug = $4), $5)
             ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name,
                 parent_id = EXCLUDED.parent_id, position = EXCLUDED.position",
            Uuid::now_v7(),
            slug,
            name,
            parent.as_deref(),
            i32::try_from(position).unwrap_or(i32::MAX),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(genres.len())
}

async fn load_markets(conn: &mut PgConnection, text: &str) -> anyhow::Result<usize> {
    let rows = tsv(text, 4)?;
    for r in &rows {
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let id = sqlx::query_scalar!(
            "INSERT INTO markets (id, slug, name) VALUES ($1, $2, $3)
             ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name
             RETURNING id",
            Uuid::now_v7(),
            r[0],
            r[1],
        )
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query!("DELETE FROM market_countries WHERE market_id = $1", id)
            .execute(&mut *conn)
            .await?;
        sqlx::query!("DELETE FROM market_regions WHERE market_id = $1", id)
            .execute(&mut *conn)
            .await?;
        sqlx::query!(
            "INSERT INTO market_countries (market_id, country_code) SELECT $1, UNNEST($2::text[])",
            id,
            &list(r[2]),
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "INSERT INTO market_regions (market_id, region_code) SELECT $1, UNNEST($2::text[])",
            id,
            &list(r[3]),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len())
}

/// What a request names in the reference data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Currency,
    Country,
    City,
    Market,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Currency => "currency",
            Self::Country => "country",
            Self::City => "city",
            Self::Market => "market",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Currency => "is not an ISO 4217 currency code",
            Self::Country => "is not an ISO 3166-1 alpha-2 country code",
            Self::City => "is not a known city",
            Self::Market => "is not a known market",
        }
    }
}

/// The codes and ids one request takes from the reference data, checked
/// together in one query, so every unknown one is a field error on the
/// field that named it (`deal.currency`, `venue.city_id`,
/// `territories[2]`). The database refuses the same values (foreign keys,
/// or triggers for arrays); this check runs first so the client learns
/// which field, and so values kept in JSON or only used as filters are
/// checked at all. Shapes (two or three capital letters) are
/// [`crate::validate::Check`]'s job; this only asks whether the value exists.
#[derive(Debug, Default)]
pub struct Refs {
    items: Vec<(String, Kind, String)>,
}

impl Refs {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, field: impl Into<String>, kind: Kind, value: String) -> &mut Self {
        self.items.push((field.into(), kind, value));
        self
    }

    pub fn currency(&mut self, field: impl Into<String>, code: Option<&str>) -> &mut Self {
        match code {
            Some(code) => self.push(field, Kind::Currency, code.to_owned()),
            None => self,
        }
    }

    pub fn country(&mut self, field: impl Into<String>, code: Option<&str>) -> &mut Self {
        match code {
            Some(code) => self.push(field, Kind::Country, code.to_owned()),
            None => self,
        }
    }

    pub fn city(&mut self, field: impl Into<String>, id: Option<i64>) -> &mut Self {
        match id {
            Some(id) => self.push(field, Kind::City, id.to_string()),
            None => self,
        }
    }

    pub fn market(&mut self, field: impl Into<String>, id: Option<Uuid>) -> &mut Self {
        match id {
            Some(id) => self.push(field, Kind::Market, id.to_string()),
            None => self,
        }
    }

    /// The kinds and values named, for the SQL function
    /// `kisum_unknown_references`, which a statement asking more than
    /// this may call; [`Refs::refuse`] reads its answer.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.items.iter().map(|(_, k, _)| k.as_str()).collect()
    }

    pub fn values(&self) -> Vec<&str> {
        self.items.iter().map(|(_, _, v)| v.as_str()).collect()
    }

    /// The field errors of the 1-based positions `kisum_unknown_references`
    /// answered.
    pub fn errors(&self, missing: &[i64]) -> Vec<FieldError> {
        missing
            .iter()
            .filter_map(|i| usize::try_from(i - 1).ok())
            .filter_map(|i| self.items.get(i))
            .map(|(field, kind, _)| FieldError::new(field.clone(), kind.message()))
            .collect()
    }

    /// 422 `validation_failed` naming the unknown values, when
    /// `kisum_unknown_references` answered any.
    pub fn refuse(&self, missing: &[i64]) -> Result<(), DomainError> {
        let errors = self.errors(missing);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(errors))
        }
    }

    /// The fields naming something that does not exist, in the order given.
    pub async fn unknown(&self, conn: &mut PgConnection) -> Result<Vec<FieldError>, DomainError> {
        if self.items.is_empty() {
            return Ok(Vec::new());
        }
        let missing = sqlx::query_scalar!(
            r#"SELECT kisum_unknown_references($1, $2) AS "missing!""#,
            &self.kinds() as &[&str],
            &self.values() as &[&str],
        )
        .fetch_one(conn)
        .await?;
        Ok(self.errors(&missing))
    }

    /// Refuses the request (422 `validation_failed`) when anything named is unknown.
    pub async fn check(&self, conn: &mut PgConnection) -> Result<(), DomainError> {
        let errors = self.unknown(conn).await?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_files_parse() {
        assert_eq!(tsv(COUNTRIES, 5).unwrap().len(), 249);
        assert!(tsv(CITIES, 8).unwrap().len() > 30_000);
        assert!(tsv(CURRENCIES, 4).unwrap().len() > 150);
        let genres = parse_genres(GENRES).unwrap();
        assert!(genres.len() >= 300, "{} genres", genres.len());
        assert!(genres.iter().all(|(slug, _, _)| !slug.is_empty()));
        let parents = genres.iter().filter(|g| g.2.is_none()).count();
        assert!((10..40).contains(&parents));
        assert!(tsv(MARKETS, 4).unwrap().len() >= 30);
    }
}

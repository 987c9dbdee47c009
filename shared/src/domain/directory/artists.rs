//! Artists, their profiles, and directory search.
//!
//! Rules: an artist is created by an org owning an agency or management
//! company (the acting company); it is edited by the org representing it
//! (see `access::can_edit_artist`). Deleting archives: the record stays
//! for history but leaves the directory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::geo::{self, resolve_genres};
use super::provider_refs::{self, EntityType, ProviderRefIn};
use crate::DomainError;
use crate::access::{self, require_artist_editor};
use crate::pagination::{Page, PageRequest};
use crate::reference::Refs;
use crate::serde_util::double_option;
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GenreRef {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Artist {
    pub id: Uuid,
    pub name: String,
    /// ISO 3166-1 alpha-2 home country.
    pub country: Option<String>,
    pub city_id: Option<i64>,
    pub city_name: Option<String>,
    pub genres: Vec<GenreRef>,
    /// The company that created the record (`null` for imports).
    pub created_by_company_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtistIn {
    pub name: String,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city_id: Option<i64>,
    /// Genre slugs or ids.
    #[serde(default)]
    pub genres: Vec<String>,
    /// The agency or management company acting; may be left out when the
    /// org owns exactly one.
    #[serde(default)]
    pub company_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtistImport {
    pub name: String,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city_id: Option<i64>,
    #[serde(default)]
    pub genres: Vec<String>,
    #[serde(default)]
    pub provider_reference: Option<ProviderRefIn>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtistPatch {
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub city_id: Option<Option<i64>>,
    /// Replaces the genres when present.
    pub genres: Option<Vec<String>>,
}

/// Directory search filters.
#[derive(Debug, Default)]
pub struct ArtistFilter {
    pub q: Option<String>,
    /// A genre slug or id; its subgenres match too.
    pub genre: Option<String>,
    pub country: Option<String>,
    pub city_id: Option<i64>,
    pub market_id: Option<Uuid>,
}

/// Sort key of a search page: relevance (0 when browsing), folded name, id.
pub type ArtistCursor = (f32, String, Uuid);

struct Fields {
    name: String,
    country: Option<String>,
    city_id: Option<i64>,
}

fn check_fields(
    name: &str,
    country: Option<&str>,
    city_id: Option<i64>,
) -> Result<Fields, DomainError> {
    let mut check = Check::new();
    let fields = Fields {
        name: check.text("name", name, 1, 200),
        country: check.country("country", country),
        city_id,
    };
    check.finish()?;
    Ok(fields)
}

/// The agency or management company through which `org_id` creates artists.
async fn acting_company(
    conn: &mut PgConnection,
    org_id: Uuid,
    requested: Option<Uuid>,
) -> Result<Uuid, DomainError> {
    let mut owned = access::owned_companies(conn, org_id).await?;
    owned.retain(|c| c.kind.represents_artists());
    match (requested, owned.as_slice()) {
        (Some(id), _) if owned.iter().any(|c| c.id == id) => Ok(id),
        (Some(_), _) => Err(DomainError::Forbidden(
            "company_id must be an agency or management company your org owns",
        )),
        (None, [only]) => Ok(only.id),
        (None, []) => Err(DomainError::Forbidden(
            "creating artists needs an agency or management company owned by your org",
        )),
        (None, _) => Err(DomainError::invalid(
            "company_id",
            "is required: your org owns several agency or management companies",
        )),
    }
}

async fn set_genres(
    conn: &mut PgConnection,
    artist_id: Uuid,
    genre_ids: &[Uuid],
) -> Result<(), DomainError> {
    sqlx::query!("DELETE FROM artist_genres WHERE artist_id = $1", artist_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO artist_genres (artist_id, genre_id) SELECT $1, UNNEST($2::uuid[])",
        artist_id,
        genre_ids,
    )
    .execute(&mut *conn)
    .await?;
    crate::domain::changes::mark_artist(&mut *conn, artist_id).await?;
    Ok(())
}

async fn insert(
    conn: &mut PgConnection,
    f: &Fields,
    genre_ids: &[Uuid],
    company_id: Option<Uuid>,
) -> Result<Uuid, DomainError> {
    let country = geo::place(&mut *conn, f.country.clone(), f.city_id).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO artists (id, name, country_code, city_id, created_by_company_id) VALUES ($1, $2, $3, $4, $5)",
        id,
        f.name,
        country,
        f.city_id,
        company_id,
    )
    .execute(&mut *conn)
    .await?;
    set_genres(conn, id, genre_ids).await?;
    Ok(id)
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    input: ArtistIn,
) -> Result<Artist, DomainError> {
    let f = check_fields(&input.name, input.country.as_deref(), input.city_id)?;
    let genre_ids = resolve_genres(&mut *conn, "genres", &input.genres).await?;
    let company_id = acting_company(&mut *conn, org_id, input.company_id).await?;
    let id = insert(&mut *conn, &f, &genre_ids, Some(company_id)).await?;
    get(conn, id).await
}

/// Trusted import: idempotent on the provider reference when one is given.
pub async fn import(
    conn: &mut PgConnection,
    input: ArtistImport,
) -> Result<(Artist, bool), DomainError> {
    let f = check_fields(&input.name, input.country.as_deref(), input.city_id)?;
    let genre_ids = resolve_genres(&mut *conn, "genres", &input.genres).await?;
    if let Some(reference) = &input.provider_reference {
        reference.validate()?;
        provider_refs::lock(&mut *conn, reference, EntityType::Artist).await?;
        if let Some(existing) =
            provider_refs::find(&mut *conn, reference, EntityType::Artist).await?
        {
            return Ok((get(conn, existing).await?, false));
        }
    }
    let id = insert(&mut *conn, &f, &genre_ids, None).await?;
    if let Some(reference) = &input.provider_reference {
        provider_refs::insert(&mut *conn, reference, EntityType::Artist, id).await?;
    }
    Ok((get(conn, id).await?, true))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Artist, DomainError> {
    get_many(conn, &[id])
        .await?
        .pop()
        .ok_or(DomainError::NotFound)
}

/// The current version of a directory artist, for a conditional read.
pub async fn version(conn: &mut PgConnection, id: Uuid) -> Result<i32, DomainError> {
    sqlx::query_scalar!(
        "SELECT version FROM artists WHERE id = $1 AND archived_at IS NULL",
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// Genre ids a filter matches: the genre and its subgenres.
async fn genre_filter(
    conn: &mut PgConnection,
    genre: Option<&str>,
) -> Result<Option<Vec<Uuid>>, DomainError> {
    let Some(genre) = genre else {
        return Ok(None);
    };
    let root = geo::resolve_genre(&mut *conn, "genre", genre).await?;
    Ok(Some(
        sqlx::query_scalar!(
            "SELECT id FROM genres WHERE id = $1 OR parent_id = $1",
            root
        )
        .fetch_all(conn)
        .await?,
    ))
}

/// Directory search: typo-tolerant on the name (trigram similarity on the
/// accent-folded name) and ranked by relevance when `q` is given, by name
/// otherwise; keyset-paginated on (relevance, name, id). Run it inside a
/// (read-only) transaction: it sets a planner hint for that transaction.
pub async fn search(
    conn: &mut PgConnection,
    filter: &ArtistFilter,
    page: &PageRequest<ArtistCursor>,
) -> Result<Page<Artist>, DomainError> {
    // An unknown place would match nothing: say so instead (422).
    Refs::new()
        .country("country", filter.country.as_deref())
        .city("city_id", filter.city_id)
        .market("market_id", filter.market_id)
        .check(&mut *conn)
        .await?;
    let genres = genre_filter(&mut *conn, filter.genre.as_deref()).await?;
    let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let (after_score, after_key, after_id) = match &page.after {
        Some((s, k, i)) => (Some(*s), Some(k.clone()), Some(*i)),
        None => (None, None, None),
    };
    if q.is_some() {
        // Postgres misjudges how selective trigram matching is and may pick
        // a sequential scan, which computes similarity for every artist
        // (hundreds of ms at 100,000). The trigram index is always the
        // better path; this holds for the caller's transaction only.
        sqlx::query!("SET LOCAL enable_seqscan = off")
            .execute(&mut *conn)
            .await?;
    }
    let ids: Vec<(Uuid, f32, String)> = match q {
        // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
        Some(q) => sqlx::query!(
            r#"SELECT id AS "id!", score AS "score!", key AS "key!" FROM (
                 SELECT a.id, a.search_name AS key,
                        GREATEST(similarity(a.search_name, kisum_fold($1)),
                                 word_similarity(kisum_fold($1), a.search_name)) AS score
                   FROM artists a
                  WHERE a.archived_at IS NULL
                    AND (a.search_name % kisum_fold($1)
                         OR kisum_fold($1) <% a.search_name
                         OR a.search_name LIKE '%' || kisum_fold($1) || '%')
                    AND ($2::uuid[] IS NULL OR EXISTS (
                          SELECT 1 FROM artist_genres ag WHERE ag.artist_id = a.id AND ag.genre_id = ANY($2)))
                    AND ($3::text IS NULL OR a.country_code = $3)
                    AND ($4::bigint IS NULL OR a.city_id = $4)
                    AND ($5::uuid IS NULL OR a.country_code IN (SELECT country_code FROM market_countries WHERE market_id = $5)
                         OR a.city_id IN (SELECT c.id FROM cities c JOIN market_regions mr ON mr.region_code = c.region_code
                                           WHERE mr.market_id = $5))
               ) s
               WHERE ($6::real IS NULL OR score < $6 OR (score = $6 AND (key, id) > ($7, $8::uuid)))
               ORDER BY score DESC, key, id
               LIMIT $9"#,
            q,
            genres.as_deref(),
            filter.country.as_deref(),
            filter.city_id,
            filter.market_id,
            after_score,
            after_key,
            after_id,
            page.fetch_limit(),
        )
        .fetch_all(Unnamed(&mut *conn))
        .await?
        .into_iter()
        .map(|r| (r.id, r.score, r.key))
        .collect(),
        // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
        None => sqlx::query!(
            r#"SELECT a.id, a.search_name AS "key!"
                 FROM artists a
                WHERE a.archived_at IS NULL
                  AND ($1::uuid[] IS NULL OR EXISTS (
                        SELECT 1 FROM artist_genres ag WHERE ag.artist_id = a.id AND ag.genre_id = ANY($1)))
                  AND ($2::text IS NULL OR a.country_code = $2)
                  AND ($3::bigint IS NULL OR a.city_id = $3)
                  AND ($4::uuid IS NULL OR a.country_code IN (SELECT country_code FROM market_countries WHERE market_id = $4)
                       OR a.city_id IN (SELECT c.id FROM cities c JOIN market_regions mr ON mr.region_code = c.region_code
                                         WHERE mr.market_id = $4))
                  AND ($5::text IS NULL OR (a.search_name, a.id) > ($5, $6::uuid))
                ORDER BY a.search_name, a.id
                LIMIT $7"#,
            genres.as_deref(),
            filter.country.as_deref(),
            filter.city_id,
            filter.market_id,
            after_key,
            after_id,
            page.fetch_limit(),
        )
        .fetch_all(Unnamed(&mut *conn))
        .await?
        .into_iter()
        .map(|r| (r.id, 0.0, r.key))
        .collect(),
    };
    let page_of_keys = Page::from_rows(ids, page.limit, |(id, score, key)| {
        (*score, key.clone(), *id)
    });
    let artists = get_many(
        conn,
        &page_of_keys
            .items
            .iter()
            .map(|(id, _, _)| *id)
            .collect::<Vec<_>>(),
    )
    .await?;
    // An artist archived between the two reads drops out of the page.
    let mut artists = artists;
    Ok(Page {
        items: page_of_keys
            .items
            .iter()
            .filter_map(|(id, _, _)| {
                artists
                    .iter()
                    .position(|a| a.id == *id)
                    .map(|i| artists.swap_remove(i))
            })
            .collect(),
        next_cursor: page_of_keys.next_cursor,
    })
}

/// Artists by id (archived ones left out), in one query.
pub async fn get_many(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Artist>, DomainError> {
    let rows = sqlx::query!(
        r#"SELECT a.id AS "id!", a.name AS "name!", a.country_code::text AS country, a.city_id,
                  ci.name AS "city_name?", a.created_by_company_id, a.version AS "version!",
                  a.created_at AS "created_at!", a.updated_at AS "updated_at!",
                  COALESCE((SELECT json_agg(json_build_object('id', g.id, 'slug', g.slug, 'name', g.name) ORDER BY g.position)
                              FROM artist_genres ag JOIN genres g ON g.id = ag.genre_id
                             WHERE ag.artist_id = a.id), '[]') AS "genres!: Json<Vec<GenreRef>>"
             FROM artists a LEFT JOIN cities ci ON ci.id = a.city_id
            WHERE a.id = ANY($1) AND a.archived_at IS NULL"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Artist {
            id: row.id,
            name: row.name,
            country: row.country,
            city_id: row.city_id,
            city_name: row.city_name,
            genres: row.genres.0,
            created_by_company_id: row.created_by_company_id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect())
}

pub async fn update(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    patch: ArtistPatch,
    expected_version: Option<i32>,
) -> Result<Artist, DomainError> {
    require_artist_editor(&mut *conn, id, org_id).await?;
    // `NO KEY UPDATE` (what the `UPDATE` below takes anyway), not `UPDATE`:
    // the mark below may wait for a refresh that checks this row with
    // `FOR KEY SHARE`, which `FOR UPDATE` would make a deadlock.
    let current = sqlx::query!(
        "SELECT name, country_code::text AS country, city_id, version FROM artists WHERE id = $1 FOR NO KEY UPDATE",
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(DomainError::StaleVersion);
    }
    let name = patch.name.unwrap_or(current.name);
    let country = patch.country.unwrap_or(current.country);
    let city_id = patch.city_id.unwrap_or(current.city_id);
    let f = check_fields(&name, country.as_deref(), city_id)?;
    let country = geo::place(&mut *conn, f.country.clone(), f.city_id).await?;
    if let Some(genres) = &patch.genres {
        let genre_ids = resolve_genres(&mut *conn, "genres", genres).await?;
        set_genres(&mut *conn, id, &genre_ids).await?;
    }
    sqlx::query!(
        "UPDATE artists SET name = $2, country_code = $3, city_id = $4, version = version + 1, updated_at = now()
          WHERE id = $1",
        id,
        f.name,
        country,
        f.city_id,
    )
    .execute(&mut *conn)
    .await?;
    crate::domain::changes::mark_artist(&mut *conn, id).await?;
    get(conn, id).await
}

/// Archives the artist: it leaves the directory; history keeps it.
pub async fn archive(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), DomainError> {
    require_artist_editor(&mut *conn, id, org_id).await?;
    sqlx::query!(
        "UPDATE artists SET archived_at = now(), updated_at = now() WHERE id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    crate::domain::changes::mark_artist(&mut *conn, id).await?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub label: String,
    pub url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Photo {
    pub url: String,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub credit: Option<String>,
}

/// Expected ticket draw in one market.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketDraw {
    pub market_id: Uuid,
    pub draw: i32,
}

/// The public profile of an artist. Fees are integer minor units.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    pub artist_id: Uuid,
    pub bio: Option<String>,
    pub links: Vec<Link>,
    pub photos: Vec<Photo>,
    pub fee_min: Option<i64>,
    pub fee_max: Option<i64>,
    pub fee_currency: Option<String>,
    /// Countries (ISO 3166-1 alpha-2) the artist plays in.
    pub territories: Vec<String>,
    pub draw_by_market: Vec<MarketDraw>,
    pub version: i32,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileIn {
    #[serde(default)]
    pub bio: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub photos: Vec<Photo>,
    #[serde(default)]
    pub fee_min: Option<i64>,
    #[serde(default)]
    pub fee_max: Option<i64>,
    #[serde(default)]
    pub fee_currency: Option<String>,
    #[serde(default)]
    pub territories: Vec<String>,
    #[serde(default)]
    pub draw_by_market: Vec<MarketDraw>,
}

pub async fn profile(conn: &mut PgConnection, artist_id: Uuid) -> Result<Profile, DomainError> {
    get(&mut *conn, artist_id).await?;
    let row = sqlx::query!(
        r#"SELECT bio, links AS "links: Json<Vec<Link>>", photos AS "photos: Json<Vec<Photo>>",
                  fee_min, fee_max, fee_currency::text AS fee_currency, territories::text[] AS "territories!",
                  draw_by_market AS "draw_by_market: Json<Vec<MarketDraw>>", version, updated_at
             FROM artist_profiles WHERE artist_id = $1"#,
        artist_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Profile {
            artist_id,
            bio: r.bio,
            links: r.links.0,
            photos: r.photos.0,
            fee_min: r.fee_min,
            fee_max: r.fee_max,
            fee_currency: r.fee_currency,
            territories: r.territories,
            draw_by_market: r.draw_by_market.0,
            version: r.version,
            updated_at: Some(r.updated_at),
        },
        None => Profile {
            artist_id,
            bio: None,
            links: Vec::new(),
            photos: Vec::new(),
            fee_min: None,
            fee_max: None,
            fee_currency: None,
            territories: Vec::new(),
            draw_by_market: Vec::new(),
            version: 0,
            updated_at: None,
        },
    })
}

/// Replaces the profile (`PUT`). `expected_version` 0 means "no profile yet".
pub async fn put_profile(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Uuid,
    input: ProfileIn,
    expected_version: Option<i32>,
) -> Result<Profile, DomainError> {
    require_artist_editor(&mut *conn, artist_id, org_id).await?;
    let mut check = Check::new();
    let bio = check.opt_text("bio", input.bio.as_deref(), 20_000);
    if input.links.len() > 50 {
        check.add("links", "at most 50 links");
    }
    for (i, link) in input.links.iter().enumerate() {
        check.text(&format!("links[{i}].label"), &link.label, 1, 100);
        check.url(&format!("links[{i}].url"), Some(&link.url));
    }
    if input.photos.len() > 50 {
        check.add("photos", "at most 50 photos");
    }
    for (i, photo) in input.photos.iter().enumerate() {
        check.url(&format!("photos[{i}].url"), Some(&photo.url));
        check.opt_text(
            &format!("photos[{i}].caption"),
            photo.caption.as_deref(),
            500,
        );
        check.opt_text(&format!("photos[{i}].credit"), photo.credit.as_deref(), 200);
    }
    let currency = check.currency("fee_currency", input.fee_currency.as_deref());
    for (field, fee) in [("fee_min", input.fee_min), ("fee_max", input.fee_max)] {
        if fee.is_some_and(|f| f < 0) {
            check.add(field, "must not be negative");
        }
    }
    if let (Some(min), Some(max)) = (input.fee_min, input.fee_max)
        && min > max
    {
        check.add("fee_max", "must not be below fee_min");
    }
    if (input.fee_min.is_some() || input.fee_max.is_some()) && currency.is_none() {
        check.add("fee_currency", "is required with a fee");
    }
    let mut refs = Refs::new();
    refs.currency("fee_currency", currency.as_deref());
    let mut territories = Vec::new();
    for (i, t) in input.territories.iter().enumerate() {
        let field = format!("territories[{i}]");
        if let Some(code) = check.country(&field, Some(t)) {
            refs.country(field, Some(&code));
            territories.push(code);
        }
    }
    territories.sort();
    territories.dedup();
    let mut markets = std::collections::HashSet::new();
    for (i, d) in input.draw_by_market.iter().enumerate() {
        if d.draw < 0 {
            check.add(&format!("draw_by_market[{i}].draw"), "must not be negative");
        }
        if !markets.insert(d.market_id) {
            check.add(
                &format!("draw_by_market[{i}].market_id"),
                "appears twice: one draw per market",
            );
        }
        refs.market(format!("draw_by_market[{i}].market_id"), Some(d.market_id));
    }
    check.finish()?;
    refs.check(&mut *conn).await?;
    let current = sqlx::query_scalar!(
        "SELECT version FROM artist_profiles WHERE artist_id = $1 FOR UPDATE",
        artist_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(0);
    if expected_version.is_some_and(|v| v != current) {
        return Err(DomainError::StaleVersion);
    }
    sqlx::query!(
        "INSERT INTO artist_profiles (artist_id, bio, links, photos, fee_min, fee_max, fee_currency, territories, draw_by_market)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[]::char(2)[], $9)
         ON CONFLICT (artist_id) DO UPDATE SET bio = $2, links = $3, photos = $4, fee_min = $5, fee_max = $6,
             fee_currency = $7, territories = $8::text[]::char(2)[], draw_by_market = $9,
             version = artist_profiles.version + 1, updated_at = now()",
        artist_id,
        bio,
        Json(&input.links) as _,
        Json(&input.photos) as _,
        input.fee_min,
        input.fee_max,
        currency,
        &territories,
        Json(&input.draw_by_market) as _,
    )
    .execute(&mut *conn)
    .await?;
    crate::domain::changes::mark_artist(&mut *conn, artist_id).await?;
    profile(conn, artist_id).await
}

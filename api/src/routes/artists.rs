//! Artists, profiles and artist platform accounts (SPEC 5.1).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::directory::artists::{
    self, Artist, ArtistFilter, ArtistIn, ArtistPatch, Profile, ProfileIn,
};
use shared::domain::directory::platform::{self, Owner, PlatformAccount, PlatformAccountIn};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::conditional::IfNoneMatch;
use crate::extract::consistency::{Consistency, replica_read};
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_artists, create_artist))
        .routes(routes!(get_artist, update_artist, delete_artist))
        .routes(routes!(get_profile, put_profile))
        .routes(routes!(list_artist_accounts, add_artist_account))
        .routes(routes!(remove_artist_account))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtistQuery {
    /// Name search, typo-tolerant; results ranked by relevance.
    pub q: Option<String>,
    /// Genre slug or id; its subgenres match too.
    pub genre: Option<String>,
    /// ISO 3166-1 alpha-2 home country.
    pub country: Option<String>,
    pub city_id: Option<i64>,
    pub market_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Searches the artist directory.
#[utoipa::path(get, path = "/api/v1/artists", tag = "directory",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), ArtistQuery),
    responses((status = 200, body = Page<Artist>)))]
async fn search_artists(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ArtistQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Artist>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let filter = ArtistFilter {
        q: query.q,
        genre: query.genre,
        country: query.country.map(|c| c.trim().to_ascii_uppercase()),
        city_id: query.city_id,
        market_id: query.market_id,
    };
    let found = replica_read!(state.reads, token, |conn| {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let found = artists::search(&mut tx, &filter, &page).await?;
        tx.commit().await?;
        Ok(found)
    })?;
    Ok(Json(found))
}

/// Creates an artist through an agency or management company the org owns.
#[utoipa::path(post, path = "/api/v1/artists", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = ArtistIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = Artist, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_artist(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<ArtistIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let artist = artists::create(&mut tx, caller.org_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(artist.version), Json(artist)))
}

#[utoipa::path(get, path = "/api/v1/artists/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])),
    params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write")),
    responses((status = 200, body = Artist, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_artist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    condition: IfNoneMatch,
    Consistency(token): Consistency,
) -> Result<Response, AppError> {
    caller.require(Permission::DirectoryRead)?;
    // A client holding the current version gets 304 from the version
    // alone, without the genres and city read.
    replica_read!(state.reads, token, |conn| {
        if condition.is_present()
            && let Some(unchanged) = condition.unchanged(artists::version(&mut *conn, id).await?)
        {
            return Ok(unchanged);
        }
        let artist = artists::get(&mut *conn, id).await?;
        Ok((etag(artist.version), Json(artist)).into_response())
    })
    .map_err(AppError::from)
}

/// Edits an artist the org represents.
#[utoipa::path(patch, path = "/api/v1/artists/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = ArtistPatch,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Artist, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 412, body = Problem)))]
async fn update_artist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<ArtistPatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let artist = artists::update(&mut tx, caller.org_id(), id, patch, expected).await?;
    tx.commit().await?;
    Ok((etag(artist.version), Json(artist)))
}

/// Archives an artist: it leaves the directory, history keeps it.
#[utoipa::path(delete, path = "/api/v1/artists/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_artist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    artists::archive(&mut tx, caller.org_id(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/artists/{id}/profile", tag = "directory",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Profile, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    let profile = artists::profile(&mut conn, id).await?;
    Ok((etag(profile.version), Json(profile)))
}

/// Replaces the profile: bio, links, photos, fee range, territories, draw by market.
#[utoipa::path(put, path = "/api/v1/artists/{id}/profile", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = ProfileIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Profile, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn put_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<ProfileIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let profile = artists::put_profile(&mut tx, caller.org_id(), id, input, expected).await?;
    tx.commit().await?;
    Ok((etag(profile.version), Json(profile)))
}

#[utoipa::path(get, path = "/api/v1/artists/{id}/platform-accounts", tag = "directory",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<PlatformAccount>), (status = 404, body = Problem)))]
async fn list_artist_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<PlatformAccount>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(platform::list(&mut conn, Owner::Artist(id)).await?))
}

#[utoipa::path(post, path = "/api/v1/artists/{id}/platform-accounts", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = PlatformAccountIn,
    responses((status = 201, body = PlatformAccount), (status = 409, description = "Handle taken", body = Problem)))]
async fn add_artist_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<PlatformAccountIn>,
) -> Result<(StatusCode, Json<PlatformAccount>), AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let account = platform::add(&mut tx, caller.org_id(), Owner::Artist(id), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(account)))
}

#[utoipa::path(delete, path = "/api/v1/artists/{id}/platform-accounts/{account_id}", tag = "directory",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn remove_artist_account(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, account_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    platform::remove(&mut tx, caller.org_id(), Owner::Artist(id), account_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Shortlists of an org (SPEC 5.8). Items join when the directory lands.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use shared::auth::Permission;
use shared::domain::shortlists::{self, Shortlist, ShortlistIn, ShortlistPatch};
use shared::pagination::Page;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_shortlists, create_shortlist))
        .routes(routes!(get_shortlist, update_shortlist, delete_shortlist))
}

/// Shortlists of my org, newest first.
#[utoipa::path(get, path = "/api/v1/shortlists", tag = "shortlists",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<Shortlist>)))]
async fn list_shortlists(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<Shortlist>>, AppError> {
    caller.require(Permission::ShortlistsRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        shortlists::list(&mut conn, caller.org_id(), &page).await?,
    ))
}

/// Creates a shortlist. Accepts `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/shortlists", tag = "shortlists",
    security(("bearer" = [], "org" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = ShortlistIn,
    responses(
        (status = 201, body = Shortlist, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 409, description = "Name taken in this org", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem)))]
async fn create_shortlist(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<ShortlistIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ShortlistsWrite)?;
    let mut tx = state.pool.begin().await?;
    let shortlist = shortlists::create(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        etag(shortlist.version),
        Json(shortlist),
    ))
}

#[utoipa::path(get, path = "/api/v1/shortlists/{id}", tag = "shortlists",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Shortlist, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_shortlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ShortlistsRead)?;
    let mut conn = state.pool.acquire().await?;
    let shortlist = shortlists::get(&mut conn, caller.org_id(), id).await?;
    Ok((etag(shortlist.version), Json(shortlist)))
}

/// Renames or re-describes a shortlist; `If-Match` guards against lost updates.
#[utoipa::path(patch, path = "/api/v1/shortlists/{id}", tag = "shortlists",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    request_body = ShortlistPatch,
    responses((status = 200, body = Shortlist, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 409, description = "Name taken in this org", body = Problem), (status = 412, body = Problem)))]
async fn update_shortlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<ShortlistPatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ShortlistsWrite)?;
    let mut tx = state.pool.begin().await?;
    let shortlist = shortlists::update(&mut tx, caller.org_id(), id, patch, expected).await?;
    tx.commit().await?;
    Ok((etag(shortlist.version), Json(shortlist)))
}

#[utoipa::path(delete, path = "/api/v1/shortlists/{id}", tag = "shortlists",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_shortlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ShortlistsWrite)?;
    let mut tx = state.pool.begin().await?;
    shortlists::delete(&mut tx, caller.org_id(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Shortlists of an org (SPEC 5.8) and their items, annotated from the
//! marketplace's search table for a date range.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::shortlists::{
    self, Shortlist, ShortlistDetail, ShortlistIn, ShortlistItem, ShortlistItemIn, ShortlistPatch,
};
use shared::pagination::Page;
use utoipa::IntoParams;
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
        .routes(routes!(add_item))
        .routes(routes!(remove_item))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RangeParams {
    /// With `to`: annotate each artist with its open dates in the range
    /// and its fee range.
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl RangeParams {
    fn range(&self) -> Result<Option<(NaiveDate, NaiveDate)>, AppError> {
        match (self.from, self.to) {
            (None, None) => Ok(None),
            (Some(f), Some(t)) if f <= t && (t - f).num_days() <= 366 => Ok(Some((f, t))),
            (Some(_), Some(_)) => Err(shared::DomainError::invalid(
                "to",
                "must be on or after from, at most 366 days later",
            )
            .into()),
            _ => Err(shared::DomainError::invalid("from", "from and to go together").into()),
        }
    }
}

/// Adds an artist to the shortlist, at `position` or the end. Accepts
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/shortlists/{id}/items", tag = "shortlists",
    security(("bearer" = [], "org" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = ShortlistItemIn,
    responses((status = 201, body = ShortlistItem), (status = 404, body = Problem),
        (status = 409, description = "`already_shortlisted` or `shortlist_full`", body = Problem),
        (status = 422, body = Problem)))]
async fn add_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<ShortlistItemIn>,
) -> Result<(StatusCode, Json<ShortlistItem>), AppError> {
    caller.require(Permission::ShortlistsWrite)?;
    let mut tx = state.pool.begin().await?;
    let item = shortlists::add_item(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// Removes an artist; the items after it move up.
#[utoipa::path(delete, path = "/api/v1/shortlists/{id}/items/{artist_id}", tag = "shortlists",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn remove_item(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, artist_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ShortlistsWrite)?;
    let mut tx = state.pool.begin().await?;
    shortlists::remove_item(&mut tx, caller.org_id(), id, artist_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
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

/// The shortlist with its items in order; `?from=&to=` annotates each
/// artist with its open dates in the range and its fee range.
#[utoipa::path(get, path = "/api/v1/shortlists/{id}", tag = "shortlists",
    security(("bearer" = [], "org" = [])), params(RangeParams),
    responses((status = 200, body = ShortlistDetail, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_shortlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(params): Query<RangeParams>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ShortlistsRead)?;
    let range = params.range()?;
    let mut conn = state.pool.acquire().await?;
    let shortlist = shortlists::detail(&mut conn, caller.org_id(), id, range).await?;
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

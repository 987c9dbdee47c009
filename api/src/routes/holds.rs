//! Holds (SPEC 5.4): placed and released by the artist's booking agency,
//! visible to both parties.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::booking::holds::{self, Hold, HoldFilter, HoldIn, HoldStatus};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::consistency::{Consistency, replica_read};
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_holds, place_hold))
        .routes(routes!(get_hold))
        .routes(routes!(release_hold))
        .routes(routes!(challenge_hold))
}

/// Challenges the first hold on this hold's date. This hold must be backed
/// by an accepted offer; the first hold then has the challenge window
/// (`HOLD_CHALLENGE_WINDOW_SECONDS`, default 48 h) to confirm, or it loses
/// its place and the holds below move up. Answers with the challenged hold.
#[utoipa::path(post, path = "/api/v1/holds/{id}/challenge", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Hold, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn challenge_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let window = chrono::Duration::from_std(state.config.hold_challenge_window)
        .map_err(|e| AppError::internal(anyhow::anyhow!("challenge window: {e}")))?;
    let mut tx = state.pool.begin().await?;
    let hold = holds::challenge(&mut tx, caller.org_id(), caller.user_id(), id, window).await?;
    tx.commit().await?;
    Ok((etag(hold.version), Json(hold)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HoldQuery {
    pub artist_id: Option<Uuid>,
    pub date: Option<NaiveDate>,
    pub status: Option<HoldStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Holds my org is party to, newest first.
#[utoipa::path(get, path = "/api/v1/holds", tag = "booking",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), HoldQuery),
    responses((status = 200, body = Page<Hold>)))]
async fn list_holds(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HoldQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Hold>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let filter = HoldFilter {
        artist_id: query.artist_id,
        date: query.date,
        status: query.status,
    };
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            holds::list_for(&mut *conn, caller.org_id(), &filter, &page).await?,
        ))
    })?;
    Ok(found)
}

/// Places a hold; it gets the next free priority on that date and expires
/// at `expires_at` unless released or converted first.
#[utoipa::path(post, path = "/api/v1/holds", tag = "booking",
    security(("bearer" = [], "org" = [])), request_body = HoldIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = Hold, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn place_hold(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<HoldIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let hold = holds::place(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(hold.version), Json(hold)))
}

#[utoipa::path(get, path = "/api/v1/holds/{id}", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Hold, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingRead)?;
    let mut conn = state.pool.acquire().await?;
    let hold = holds::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(hold.version), Json(hold)))
}

/// Releases a hold; the holds below it move up.
#[utoipa::path(post, path = "/api/v1/holds/{id}/release", tag = "booking",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Hold, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn release_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let hold = holds::release(&mut tx, caller.org_id(), caller.user_id(), id, expected).await?;
    tx.commit().await?;
    Ok((etag(hold.version), Json(hold)))
}

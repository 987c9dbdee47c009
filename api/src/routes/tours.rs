//! Tours (SPEC 5.6): tours of one artist, their stops in routing order and
//! the routing with its warnings.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use shared::auth::Permission;
use shared::domain::touring::routing::{self, TourRouting};
use shared::domain::touring::stops::{self, StopOrderIn, TourStop, TourStopIn, TourStopPatch};
use shared::domain::touring::tours::{self, Tour, TourIn, TourPatch};
use shared::pagination::Page;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tours, create_tour))
        .routes(routes!(get_tour, update_tour))
        .routes(routes!(list_tour_stops, add_tour_stop))
        .routes(routes!(update_tour_stop, remove_tour_stop))
        .routes(routes!(reorder_tour_stops))
        .routes(routes!(tour_routing))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TourListParams {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only this artist's tours.
    #[serde(default)]
    pub artist_id: Option<Uuid>,
}

/// The tours an org keeps, and those with a show it promotes.
#[utoipa::path(get, path = "/api/v1/tours", tag = "touring",
    security(("bearer" = [], "org" = [])), params(TourListParams),
    responses((status = 200, body = Page<Tour>)))]
async fn list_tours(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<TourListParams>,
) -> Result<Json<Page<Tour>>, AppError> {
    caller.require(Permission::TouringRead)?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        tours::list(&mut conn, caller.org_id(), params.artist_id, &page).await?,
    ))
}

/// Starts a tour for an artist one of the org's companies represents.
#[utoipa::path(post, path = "/api/v1/tours", tag = "touring",
    security(("bearer" = [], "org" = [])), request_body = TourIn,
    responses((status = 201, body = Tour, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 422, description = "Invalid fields, an unknown artist or a company that is not the caller's or does not represent the artist", body = Problem)))]
async fn create_tour(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<TourIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    let tour = tours::create(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(tour.version), Json(tour)))
}

#[utoipa::path(get, path = "/api/v1/tours/{id}", tag = "touring",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Tour, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 404, body = Problem)))]
async fn get_tour(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringRead)?;
    let mut conn = state.pool.acquire().await?;
    let tour = tours::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(tour.version), Json(tour)))
}

/// Renames a tour, or changes its travel mode or notes (the artist side).
#[utoipa::path(patch, path = "/api/v1/tours/{id}", tag = "touring",
    security(("bearer" = [], "org" = [])), request_body = TourPatch,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Tour, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, description = "A promoter of one of the tour's shows", body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn update_tour(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<TourPatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    let tour = tours::update(&mut tx, caller.org_id(), id, input, expected).await?;
    tx.commit().await?;
    Ok((etag(tour.version), Json(tour)))
}

/// A tour's stops in routing order.
#[derive(Debug, Serialize, ToSchema)]
pub struct TourStopList {
    pub items: Vec<TourStop>,
    /// The tour's version, for `If-Match` on a reorder.
    pub tour_version: i32,
}

async fn stop_list(
    conn: &mut sqlx::PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
    items: Vec<TourStop>,
) -> Result<impl IntoResponse + use<>, AppError> {
    let tour = tours::get_for(conn, org_id, tour_id).await?;
    Ok((
        etag(tour.version),
        Json(TourStopList {
            items,
            tour_version: tour.version,
        }),
    ))
}

/// The stops of a tour in routing order (the artist side).
#[utoipa::path(get, path = "/api/v1/tours/{id}/stops", tag = "touring",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = TourStopList, headers(("ETag" = String, description = "The tour's version, for If-Match on a reorder"))),
        (status = 403, description = "A promoter of one of the tour's shows", body = Problem),
        (status = 404, body = Problem)))]
async fn list_tour_stops(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringRead)?;
    let mut tx = state.pool.begin().await?;
    let items = stops::list(&mut tx, caller.org_id(), id).await?;
    let response = stop_list(&mut tx, caller.org_id(), id, items).await?;
    tx.commit().await?;
    Ok(response)
}

/// Adds a show (a confirmed booking of the tour's artist, where the caller
/// is the agency) or a free-standing day. It goes after the last stop
/// dated on or before it, unless `position` says where.
#[utoipa::path(post, path = "/api/v1/tours/{id}/stops", tag = "touring",
    security(("bearer" = [], "org" = [])), request_body = TourStopIn,
    responses((status = 201, body = TourStop),
        (status = 403, description = "A promoter of one of the tour's shows", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "The booking is not confirmed, is already on the tour, or the tour is full", body = Problem),
        (status = 422, body = Problem)))]
async fn add_tour_stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<TourStopIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    let stop = stops::add(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(stop)))
}

/// Changes a stop's kind, date, city, title or notes; a show's date and
/// city follow its booking (the city only when the venue names one).
#[utoipa::path(patch, path = "/api/v1/tours/{id}/stops/{stop_id}", tag = "touring",
    security(("bearer" = [], "org" = [])), request_body = TourStopPatch,
    params(("id" = Uuid, Path), ("stop_id" = Uuid, Path)),
    responses((status = 200, body = TourStop),
        (status = 403, description = "A promoter of one of the tour's shows", body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_tour_stop(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, stop_id)): Path<(Uuid, Uuid)>,
    Json(input): Json<TourStopPatch>,
) -> Result<Json<TourStop>, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    let stop = stops::update(&mut tx, caller.org_id(), id, stop_id, input).await?;
    tx.commit().await?;
    Ok(Json(stop))
}

/// Removes a stop; the stops after it move up.
#[utoipa::path(delete, path = "/api/v1/tours/{id}/stops/{stop_id}", tag = "touring",
    security(("bearer" = [], "org" = [])),
    params(("id" = Uuid, Path), ("stop_id" = Uuid, Path)),
    responses((status = 204, description = "Removed"),
        (status = 403, description = "A promoter of one of the tour's shows", body = Problem),
        (status = 404, body = Problem)))]
async fn remove_tour_stop(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, stop_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    stops::remove(&mut tx, caller.org_id(), id, stop_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts the stops in a new routing order: `stop_ids` names every stop of
/// the tour once. `If-Match` names the tour version the order was made
/// against (from the tour or its stop list).
#[utoipa::path(post, path = "/api/v1/tours/{id}/stops/reorder", tag = "touring",
    security(("bearer" = [], "org" = [])), request_body = StopOrderIn,
    params(("If-Match" = Option<String>, Header, description = "Expected tour version, as its ETag")),
    responses((status = 200, body = TourStopList, headers(("ETag" = String, description = "The tour's new version"))),
        (status = 403, description = "A promoter of one of the tour's shows", body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 422, description = "`stop_ids` does not name each stop exactly once", body = Problem)))]
async fn reorder_tour_stops(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<StopOrderIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    let items = stops::reorder(&mut tx, caller.org_id(), id, input, expected).await?;
    let response = stop_list(&mut tx, caller.org_id(), id, items).await?;
    tx.commit().await?;
    Ok(response)
}

/// Legs with great-circle distance and estimated drive, days off, and
/// warnings: a leg too long for the gap or the daily driving limit, two
/// stops one day, dates out of order, a stop inside another confirmed
/// booking's radius clause, a stop outside the agency's territory, a show
/// no longer confirmed (the artist side).
#[utoipa::path(get, path = "/api/v1/tours/{id}/routing", tag = "touring",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = TourRouting),
        (status = 403, description = "A promoter of one of the tour's shows", body = Problem),
        (status = 404, body = Problem)))]
async fn tour_routing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TourRouting>, AppError> {
    caller.require(Permission::TouringRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        routing::routing_for(&mut conn, caller.org_id(), id, &state.config.routing).await?,
    ))
}

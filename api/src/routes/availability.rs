//! Availability and discovery (SPEC 5.3).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{Days, NaiveDate, Utc};
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::booking::availability::{
    self, Avail, Availability, AvailabilityIn, AvailabilityPatch, AvailsQuery, CalendarEntry,
};
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
        .routes(routes!(list_availabilities, create_availability))
        .routes(routes!(update_availability, delete_availability))
        .routes(routes!(search_avails))
        .routes(routes!(artist_calendar))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day (default today).
    pub from: Option<NaiveDate>,
    /// Last day (default 90 days after `from`; at most 366 days after it).
    pub to: Option<NaiveDate>,
}

impl RangeQuery {
    fn range(&self) -> (NaiveDate, NaiveDate) {
        let from = self.from.unwrap_or_else(|| Utc::now().date_naive());
        let to = self.to.unwrap_or_else(|| {
            from.checked_add_days(Days::new(90))
                .unwrap_or(NaiveDate::MAX)
        });
        (from, to)
    }
}

/// The artist's availability windows: all for its agency, published ones for others.
#[utoipa::path(get, path = "/api/v1/artists/{id}/availabilities", tag = "availability",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), RangeQuery),
    responses((status = 200, body = Vec<Availability>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_availabilities(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(query): Query<RangeQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Vec<Availability>>, AppError> {
    caller.require(Permission::AvailabilityRead)?;
    let (from, to) = query.range();
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            availability::of_artist(&mut *conn, caller.org_id(), id, from, to).await?,
        ))
    })?;
    Ok(found)
}

/// Adds a window (the artist's booking agency only).
#[utoipa::path(post, path = "/api/v1/artists/{id}/availabilities", tag = "availability",
    security(("bearer" = [], "org" = [])), request_body = AvailabilityIn,
    responses((status = 201, body = Availability, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<AvailabilityIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::AvailabilityWrite)?;
    let mut tx = state.pool.begin().await?;
    let window =
        availability::create(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(window.version), Json(window)))
}

#[utoipa::path(patch, path = "/api/v1/availabilities/{id}", tag = "availability",
    security(("bearer" = [], "org" = [])), request_body = AvailabilityPatch,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Availability, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn update_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<AvailabilityPatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::AvailabilityWrite)?;
    let mut tx = state.pool.begin().await?;
    let window = availability::update(&mut tx, caller.org_id(), id, patch, expected).await?;
    tx.commit().await?;
    Ok((etag(window.version), Json(window)))
}

#[utoipa::path(delete, path = "/api/v1/availabilities/{id}", tag = "availability",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::AvailabilityWrite)?;
    let mut tx = state.pool.begin().await?;
    availability::delete(&mut tx, caller.org_id(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailsParams {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// ISO 3166-1 alpha-2 the window's territory must cover.
    pub country: Option<String>,
    pub market_id: Option<Uuid>,
    /// Genre slug or id; subgenres match too.
    pub genre: Option<String>,
    /// Windows whose minimum fee is at most this (minor units of `currency`).
    pub max_fee: Option<i64>,
    pub currency: Option<String>,
    /// Artist name, typo-tolerant.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Published windows overlapping the range, with their dates still open
/// (not booked, not under a first hold).
#[utoipa::path(get, path = "/api/v1/avails/search", tag = "availability",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), AvailsParams),
    responses((status = 200, body = Page<Avail>)))]
async fn search_avails(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AvailsParams>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Avail>>, AppError> {
    caller.require(Permission::AvailabilityRead)?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor.clone(),
    }
    .request()?;
    let query = AvailsQuery {
        from: params.from,
        to: params.to,
        country: params.country,
        market_id: params.market_id,
        genre: params.genre,
        max_fee: params.max_fee,
        currency: params.currency,
        q: params.q,
    };
    let found = replica_read!(state.reads, token, |conn| {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let found = availability::search(&mut tx, &query, &page).await?;
        tx.commit().await?;
        Ok(found)
    })?;
    Ok(Json(found))
}

/// Availabilities, holds and bookings merged; other parties' holds and
/// bookings show as `busy`.
#[utoipa::path(get, path = "/api/v1/artists/{id}/calendar", tag = "availability",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), RangeQuery),
    responses((status = 200, body = Vec<CalendarEntry>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn artist_calendar(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(query): Query<RangeQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Vec<CalendarEntry>>, AppError> {
    caller.require(Permission::AvailabilityRead)?;
    let (from, to) = query.range();
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            availability::calendar(&mut *conn, caller.org_id(), id, from, to).await?,
        ))
    })?;
    Ok(found)
}

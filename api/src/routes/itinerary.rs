//! Touring (SPEC 5.6): the itinerary of a tour, its day sheets, its
//! calendar feed and secret-URL calendar subscriptions.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use shared::DomainError;
use shared::auth::{AccessError, AccessResolver, Permission};
use shared::domain::touring::calendar;
use shared::domain::touring::day_sheet::{self, DaySheet, DaySheetFormat};
use shared::domain::touring::itinerary::{
    self, ItemKey, ItineraryItem, ItineraryItemIn, ItineraryItemPatch,
};
use shared::domain::touring::subscriptions::{
    self, CalendarSubscription, CalendarSubscriptionCreated, LiveToken,
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
        .routes(routes!(list_itinerary, create_itinerary_item))
        .routes(routes!(update_itinerary_item, delete_itinerary_item))
        .routes(routes!(get_day_sheet))
        .routes(routes!(tour_calendar))
        .routes(routes!(
            get_calendar_subscription,
            create_calendar_subscription,
            delete_calendar_subscription
        ))
        .routes(routes!(list_calendar_subscriptions))
        .routes(routes!(revoke_calendar_subscription))
}

/// Public routes: the subscription feed, opened by its secret token.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tour_feed))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItineraryListParams {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only the items of this show day (`YYYY-MM-DD`).
    #[serde(default)]
    #[param(value_type = Option<String>, format = Date)]
    pub day: Option<NaiveDate>,
}

/// The tour's itinerary by day, UTC start and id. The artist side sees
/// every item; a promoter of a show on the tour sees the `shared` items of
/// its show days.
#[utoipa::path(get, path = "/api/v1/tours/{id}/itinerary", tag = "touring",
    security(("bearer" = [], "org" = [])), params(ItineraryListParams),
    responses((status = 200, body = Page<ItineraryItem>), (status = 404, body = Problem)))]
async fn list_itinerary(
    State(state): State<AppState>,
    caller: Caller,
    Path(tour_id): Path<Uuid>,
    Query(params): Query<ItineraryListParams>,
) -> Result<Json<Page<ItineraryItem>>, AppError> {
    caller.require(Permission::TouringRead)?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request::<ItemKey>()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        itinerary::list_for(&mut conn, caller.org_id(), tour_id, params.day, &page).await?,
    ))
}

/// Adds an item (the artist side). Local times are in `timezone` (default:
/// the zone of the city of the tour's stop that day); a time skipped by a
/// daylight-saving change is 422, one that happens twice means the earlier.
#[utoipa::path(post, path = "/api/v1/tours/{id}/itinerary", tag = "touring",
    security(("bearer" = [], "org" = [])), request_body = ItineraryItemIn,
    responses((status = 201, body = ItineraryItem, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, description = "A promoter sees the tour but does not change it", body = Problem),
        (status = 404, body = Problem),
        (status = 422, description = "Unknown time zone, a local time that does not exist, an end before the start, or invalid fields", body = Problem)))]
async fn create_itinerary_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(tour_id): Path<Uuid>,
    Json(input): Json<ItineraryItemIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    let item =
        itinerary::create(&mut tx, caller.org_id(), caller.user_id(), tour_id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(item.version), Json(item)))
}

/// Changes an item (the artist side); its `version` and calendar `sequence`
/// rise.
#[utoipa::path(patch, path = "/api/v1/itinerary-items/{id}", tag = "touring",
    security(("bearer" = [], "org" = [])), request_body = ItineraryItemPatch,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = ItineraryItem, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, description = "A promoter sees a shared item but does not change it", body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, description = "Unknown time zone, a local time that does not exist, an end before the start, or invalid fields", body = Problem)))]
async fn update_itinerary_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<ItineraryItemPatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    let item = itinerary::patch(&mut tx, caller.org_id(), id, input, expected).await?;
    tx.commit().await?;
    Ok((etag(item.version), Json(item)))
}

/// Removes an item (the artist side); it leaves the calendar feed.
#[utoipa::path(delete, path = "/api/v1/itinerary-items/{id}", tag = "touring",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 204, description = "Removed"),
        (status = 403, description = "A promoter sees a shared item but does not change it", body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn delete_itinerary_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    itinerary::delete(&mut tx, caller.org_id(), id, expected).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaySheetParams {
    /// `json` (default) or `html` (a printable page).
    #[serde(default)]
    pub format: Option<DaySheetFormat>,
}

/// One day of the tour: its stops and the items the caller may see, by
/// start. A promoter reads only its show days (any other date is 404).
#[utoipa::path(get, path = "/api/v1/tours/{id}/day-sheets/{date}", tag = "touring",
    security(("bearer" = [], "org" = [])),
    params(("id" = Uuid, Path, description = "Tour id"),
           ("date" = String, Path, format = Date, description = "The day, YYYY-MM-DD"),
           DaySheetParams),
    responses((status = 200, description = "The day sheet, as JSON or as a self-contained printable HTML page",
            content((DaySheet = "application/json"), (String = "text/html"))),
        (status = 404, body = Problem)))]
async fn get_day_sheet(
    State(state): State<AppState>,
    caller: Caller,
    Path((tour_id, date)): Path<(Uuid, NaiveDate)>,
    Query(params): Query<DaySheetParams>,
) -> Result<Response, AppError> {
    caller.require(Permission::TouringRead)?;
    let mut conn = state.pool.acquire().await?;
    let sheet = day_sheet::day_sheet(&mut conn, caller.org_id(), tour_id, date).await?;
    Ok(match params.format.unwrap_or_default() {
        DaySheetFormat::Json => Json(sheet).into_response(),
        DaySheetFormat::Html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            day_sheet::html(&sheet),
        )
            .into_response(),
    })
}

fn ics(body: String) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, calendar::MEDIA_TYPE),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        body,
    )
}

/// The itinerary the caller may see as an RFC 5545 calendar: one event
/// per item, times in UTC, stable UIDs, `SEQUENCE` rising on every change.
#[utoipa::path(get, path = "/api/v1/tours/{id}/itinerary.ics", tag = "touring",
    security(("bearer" = [], "org" = [])),
    params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write")),
    responses((status = 200, description = "The calendar", content((String = "text/calendar"))),
        (status = 404, body = Problem)))]
async fn tour_calendar(
    State(state): State<AppState>,
    caller: Caller,
    Path(tour_id): Path<Uuid>,
    Consistency(token): Consistency,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringRead)?;
    let found = replica_read!(state.reads, token, |conn| {
        Ok(ics(
            calendar::feed(&mut *conn, caller.org_id(), tour_id).await?
        ))
    })?;
    Ok(found)
}

/// The caller's own live calendar subscription to the tour (its token is
/// never shown again); 404 when there is none, or it expired. Other
/// members' tokens are theirs.
#[utoipa::path(get, path = "/api/v1/tours/{id}/calendar-subscription", tag = "touring",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = CalendarSubscription), (status = 404, body = Problem)))]
async fn get_calendar_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(tour_id): Path<Uuid>,
) -> Result<Json<CalendarSubscription>, AppError> {
    caller.require(Permission::TouringRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        subscriptions::get(&mut conn, caller.org_id(), caller.user_id(), tour_id).await?,
    ))
}

/// A new secret feed URL for the caller (artist side or promoter), showing
/// the tour as the caller's org sees it, until `expires_at`
/// (`CALENDAR_TOKEN_TTL_DAYS`). The caller's previous token for the tour
/// stops working; other members' tokens do not change. The token is in
/// this answer only. In remote access mode the feed also stops once Auth
/// no longer lists the caller in the org.
#[utoipa::path(post, path = "/api/v1/tours/{id}/calendar-subscription", tag = "touring",
    security(("bearer" = [], "org" = [])),
    responses((status = 201, body = CalendarSubscriptionCreated), (status = 404, body = Problem),
        (status = 409, description = "A concurrent request of the caller subscribed at the same time", body = Problem)))]
async fn create_calendar_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(tour_id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::TouringWrite)?;
    let ttl = state.config.calendar_token_ttl;
    let mut tx = state.pool.begin().await?;
    let created =
        subscriptions::create(&mut tx, caller.org_id(), caller.user_id(), tour_id, ttl).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes the caller's own subscription to the tour: its feed URL answers
/// 404 from now on.
#[utoipa::path(delete, path = "/api/v1/tours/{id}/calendar-subscription", tag = "touring",
    security(("bearer" = [], "org" = [])),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)))]
async fn delete_calendar_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(tour_id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    subscriptions::revoke(&mut tx, caller.org_id(), caller.user_id(), tour_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own live calendar subscriptions in the org, every tour, by
/// id (tokens are never shown again). Other members' are not listed.
#[utoipa::path(get, path = "/api/v1/calendar-subscriptions", tag = "touring",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<CalendarSubscription>)))]
async fn list_calendar_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<CalendarSubscription>>, AppError> {
    caller.require(Permission::TouringRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        subscriptions::list_own(&mut conn, caller.org_id(), caller.user_id(), &page).await?,
    ))
}

/// Revokes one of the caller's own subscriptions: its feed URL answers 404
/// from now on. Another member's subscription is 404.
#[utoipa::path(delete, path = "/api/v1/calendar-subscriptions/{id}", tag = "touring",
    security(("bearer" = [], "org" = [])),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)))]
async fn revoke_calendar_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::TouringWrite)?;
    let mut tx = state.pool.begin().await?;
    subscriptions::revoke_own(&mut tx, caller.org_id(), caller.user_id(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The feed of a calendar subscription, for calendar apps: no bearer, no
/// `x-org`; the secret token is the credential. It shows the tour as the
/// subscribing org sees it now. An unknown, revoked or expired token, an
/// org that lost its access to the tour, or (in remote access mode) an
/// owner Auth no longer lists in the org, is 404.
#[utoipa::path(get, path = "/api/v1/tour-feeds/{token}/itinerary.ics", tag = "touring",
    params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), ("token" = String, Path, description = "The subscription's secret token")),
    responses((status = 200, description = "The calendar", content((String = "text/calendar"))),
        (status = 404, body = Problem),
        (status = 503, description = "Auth cannot say whether the token's owner is still a member; retry shortly", body = Problem)))]
async fn tour_feed(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Consistency(consistency): Consistency,
) -> Result<impl IntoResponse, AppError> {
    let live = replica_read!(state.reads, consistency, |conn| {
        subscriptions::live_token(&mut *conn, &token).await
    })?;
    if !owner_still_reads(&state.access, &live).await? {
        return Err(DomainError::NotFound.into());
    }
    let found = replica_read!(state.reads, consistency, |conn| {
        Ok(ics(subscriptions::feed(&mut *conn, &live).await?))
    })?;
    Ok(found)
}

/// Whether the token's owner may still read the org's tours: in remote
/// mode, Auth's answer now (a member with `artist.touring.read`); in claims
/// mode always, since only the owner's own bearer token could tell (see
/// [`subscriptions`]). An error means Auth could not answer.
async fn owner_still_reads(
    access: &AccessResolver,
    token: &LiveToken,
) -> Result<bool, AccessError> {
    match access.resolve_user(&token.owner, token.org_id).await {
        None => Ok(true),
        Some(Ok(access)) => Ok(access.can(Permission::TouringRead)),
        Some(Err(AccessError::NotMember)) => Ok(false),
        Some(Err(unavailable)) => Err(unavailable),
    }
}

//! Bookings (SPEC 5.4): accepted offers confirmed by either party.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use shared::auth::Permission;
use shared::domain::booking::activity::Activity;
use shared::domain::booking::bookings::{self, Booking, BookingIn, CancelIn};
use shared::domain::consequences;
use shared::pagination::Page;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::consistency::{Consistency, replica_read};
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, OptionalJson, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_bookings, confirm_booking))
        .routes(routes!(get_booking))
        .routes(routes!(cancel_booking))
        .routes(routes!(complete_booking))
        .routes(routes!(booking_activity))
}

/// Bookings my org is party to, newest first.
#[utoipa::path(get, path = "/api/v1/bookings", tag = "booking",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), PageParams),
    responses((status = 200, body = Page<Booking>)))]
async fn list_bookings(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Booking>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let page = params.request()?;
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            bookings::list_for(&mut *conn, caller.org_id(), &page).await?,
        ))
    })?;
    Ok(found)
}

/// Confirms an accepted offer: converts its hold and releases the other
/// holds on the date (kept when the offer allows same-day shows).
#[utoipa::path(post, path = "/api/v1/bookings", tag = "booking",
    security(("bearer" = [], "org" = [])), request_body = BookingIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = Booking, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 409, description = "Not accepted, already booked, or the date is taken", body = Problem)))]
async fn confirm_booking(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<BookingIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let booking =
        consequences::confirm_booking(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(booking.version), Json(booking)))
}

#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Booking, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingRead)?;
    let mut conn = state.pool.acquire().await?;
    let booking = bookings::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(booking.version), Json(booking)))
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", tag = "booking",
    security(("bearer" = [], "org" = [])), request_body = CancelIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Booking, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn cancel_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    OptionalJson(input): OptionalJson<CancelIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let booking = consequences::cancel_booking(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(booking.version), Json(booking)))
}

/// Marks a booking played (on or after its date).
#[utoipa::path(post, path = "/api/v1/bookings/{id}/complete", tag = "booking",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Booking, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn complete_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let booking =
        consequences::complete_booking(&mut tx, caller.org_id(), caller.user_id(), id, expected)
            .await?;
    tx.commit().await?;
    Ok((etag(booking.version), Json(booking)))
}

/// The booking's whole trail: its offer, hold and own changes, oldest first.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/activity", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Activity>), (status = 404, body = Problem)))]
async fn booking_activity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Activity>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let finance = caller.access.can(Permission::FinanceRead);
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        bookings::activity(&mut conn, caller.org_id(), id, finance).await?,
    ))
}

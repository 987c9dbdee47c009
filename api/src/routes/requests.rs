//! Booking requests (SPEC 5.4): inquiries from a promoter company, routed to
//! the artist's booking agency.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::booking::activity::{self, Activity};
use shared::domain::booking::requests::{
    self, BookingRequest, BookingRequestIn, RequestDirection, RequestEvent,
};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::consistency::{Consistency, replica_read};
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_booking_requests, create_booking_request))
        .routes(routes!(get_booking_request))
        .routes(routes!(booking_request_activity))
        .routes(routes!(decline_booking_request))
        .routes(routes!(withdraw_booking_request))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// `incoming` (to my agency) or `outgoing` (from my promoter companies); both when absent.
    pub role: Option<RequestDirection>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/booking-requests", tag = "booking",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), RequestQuery),
    responses((status = 200, body = Page<BookingRequest>)))]
async fn list_booking_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<RequestQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Page<BookingRequest>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            requests::list_for(&mut *conn, caller.org_id(), query.role, &page).await?,
        ))
    })?;
    Ok(found)
}

/// Sends an inquiry from a promoter company the org owns.
#[utoipa::path(post, path = "/api/v1/booking-requests", tag = "booking",
    security(("bearer" = [], "org" = [])), request_body = BookingRequestIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = BookingRequest, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_booking_request(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<BookingRequestIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let request = requests::create(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(request.version), Json(request)))
}

#[utoipa::path(get, path = "/api/v1/booking-requests/{id}", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = BookingRequest, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_booking_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingRead)?;
    let mut conn = state.pool.acquire().await?;
    let (request, _) = requests::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(request.version), Json(request)))
}

/// The request's trail: its changes, and those of the offers answering it
/// and of their holds and bookings, oldest first.
#[utoipa::path(get, path = "/api/v1/booking-requests/{id}/activity", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Activity>), (status = 404, body = Problem)))]
async fn booking_request_activity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Activity>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let finance = caller.access.can(Permission::FinanceRead);
    let mut conn = state.pool.acquire().await?;
    requests::get_for(&mut conn, caller.org_id(), id).await?;
    Ok(Json(
        activity::deal_trail(&mut conn, &[], &[id], finance).await?,
    ))
}

/// The agency declines an open request.
#[utoipa::path(post, path = "/api/v1/booking-requests/{id}/decline", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = BookingRequest), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn decline_booking_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<BookingRequest>, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let request = requests::close(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        RequestEvent::Decline,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(request))
}

/// The promoter withdraws an open request.
#[utoipa::path(post, path = "/api/v1/booking-requests/{id}/withdraw", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = BookingRequest), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn withdraw_booking_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<BookingRequest>, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let request = requests::close(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        RequestEvent::Withdraw,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(request))
}

//! Booking finance (SPEC 5.8, 5.9): Finance's signed events in, what it
//! reported out to the booking's parties, the audit of every handoff to
//! Finance, and the Finance endpoint's state for operators.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use shared::Code;
use shared::auth::Permission;
use shared::domain::finance::events::{self, FinanceEventIn, FinanceEventReceipt, Refused};
use shared::domain::finance::handoff::{self, FinanceEndpoint, Handoff};
use shared::domain::finance::status::{self, BookingFinance};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::internal::InternalCaller;
use crate::extract::{Json, Path};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_booking_finance))
        .routes(routes!(list_finance_handoffs))
}

/// Machine routes (internal key).
pub fn internal_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive_finance_event))
        .routes(routes!(finance_endpoint))
        .routes(routes!(enable_finance_endpoint))
}

/// The booking's deposit, invoice and settlement as Finance last reported
/// them; every part `not_reported` until it says something. Either party.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/finance", tag = "finance",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = BookingFinance),
        (status = 403, description = "Without `artist.finance.read`", body = Problem),
        (status = 404, body = Problem)))]
async fn get_booking_finance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<BookingFinance>, AppError> {
    caller.require(Permission::FinanceRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        status::for_booking(&mut conn, caller.org_id(), id).await?,
    ))
}

/// One event from Finance, signed per Standard Webhooks with
/// `FINANCE_EVENTS_SECRET` (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`; 5 minutes tolerance). Stored once by `webhook-id`:
/// a repeat is acknowledged the same way and changes nothing. An unknown
/// type or booking is stored unapplied and acknowledged, so Finance stops
/// retrying it.
#[utoipa::path(post, path = "/internal/finance/events", tag = "finance",
    security(("internal_key" = [])), request_body = FinanceEventIn,
    params(("webhook-id" = String, Header, description = "Finance's id of the message, stable across retries"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds of this attempt"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256>`, space-separated")),
    responses((status = 200, description = "Stored (and applied when it could be), or a repeat", body = FinanceEventReceipt),
        (status = 400, description = "The body is not JSON", body = Problem),
        (status = 401, description = "Missing header, bad signature, or timestamp more than 5 minutes off", body = Problem),
        (status = 415, description = "The body is not `application/json`", body = Problem),
        (status = 422, description = "The event does not fit the schema, or names an unknown currency", body = Problem),
        (status = 503, description = "`FINANCE_EVENTS_SECRET` is not set", body = Problem)))]
async fn receive_finance_event(
    State(state): State<AppState>,
    _caller: InternalCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<FinanceEventReceipt>, AppError> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnsupportedMediaType,
            "Finance events are application/json",
        ));
    }
    events::verify(&state.config.finance_events_secrets, &headers, &body).map_err(|e| match e {
        Refused::Disabled => AppError::unavailable(
            Code::FinanceEventsDisabled,
            "FINANCE_EVENTS_SECRET is not set; Finance events are refused",
        ),
        Refused::Unverified(detail) => AppError::new(
            StatusCode::UNAUTHORIZED,
            Code::WebhookSignatureInvalid,
            detail,
        ),
    })?;
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Postgres text and jsonb cannot hold NUL.
    if body.windows(6).any(|w| w == b"\\u0000") {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidBody,
            "the body must not contain NUL characters (\\u0000)",
        ));
    }
    let payload: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_request(Code::InvalidJson, format!("the body is not JSON: {e}"))
    })?;
    let event: FinanceEventIn = serde_json::from_value(payload.clone()).map_err(|e| {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidBody,
            e.to_string(),
        )
    })?;
    let mut tx = state.pool.begin().await?;
    let receipt = events::receive(&mut tx, webhook_id, event, &payload).await?;
    tx.commit().await?;
    Ok(Json(receipt))
}

/// Every handoff of the booking to Finance, with each delivery attempt
/// (time, status code, duration, error, response excerpt). Either party,
/// with `artist.finance.read`.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/finance/handoffs", tag = "finance",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Handoff>), (status = 404, body = Problem)))]
async fn list_finance_handoffs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Handoff>>, AppError> {
    caller.require(Permission::FinanceRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        handoff::list_for(&mut conn, caller.org_id(), id).await?,
    ))
}

/// Whether the Finance endpoint is disabled (it answered 410) and how many
/// handoffs wait for it.
#[utoipa::path(get, path = "/internal/ops/finance-endpoint", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = FinanceEndpoint)))]
async fn finance_endpoint(
    State(state): State<AppState>,
) -> Result<Json<FinanceEndpoint>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(handoff::endpoint(&mut conn).await?))
}

/// Enables the Finance endpoint again; every paused handoff is sent now.
#[utoipa::path(post, path = "/internal/ops/finance-endpoint/enable", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = FinanceEndpoint)))]
async fn enable_finance_endpoint(
    State(state): State<AppState>,
) -> Result<Json<FinanceEndpoint>, AppError> {
    let mut tx = state.pool.begin().await?;
    let endpoint = handoff::enable_endpoint(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(endpoint))
}

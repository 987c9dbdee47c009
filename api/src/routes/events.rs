//! The change feed (SPEC 5.10): an org's changes as a list to page and as
//! server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::StreamExt;
use serde::Deserialize;
use shared::Code;
use shared::auth::Permission;
use shared::domain::events::{self, Event, Position, Viewer};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::{Json, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// The id of the last event seen; omitted, the feed starts at the
    /// oldest event kept.
    pub after: Option<String>,
    /// Page size: default 100, at most 500.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

fn position(after: Option<&str>) -> Result<Option<Position>, AppError> {
    Ok(after
        .filter(|a| !a.is_empty())
        .map(str::parse)
        .transpose()?)
}

async fn viewer(state: &AppState, caller: &Caller) -> Result<Viewer, AppError> {
    caller.require(Permission::BookingRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Viewer::of(
        &mut conn,
        caller.org_id(),
        caller.access.can(Permission::FinanceRead),
    )
    .await?)
}

/// The changes of the records my org is a party to, oldest first.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", operation_id = "list_events",
    security(("bearer" = [], "org" = [])), params(EventsParams),
    responses((status = 200, body = Vec<Event>),
        (status = 410, description = "Events after `after` are past their retention (`events_expired`): reload, then follow from the head", body = Problem),
        (status = 422, body = Problem)))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<EventsParams>,
) -> Result<Json<Vec<Event>>, AppError> {
    let after = position(params.after.as_deref())?;
    let viewer = viewer(&state, &caller).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        events::page(&mut conn, &viewer, after, params.limit.unwrap_or(100)).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Where to resume when there is no `Last-Event-ID`; both omitted, the
    /// stream starts with the next change.
    pub after: Option<String>,
    /// Ends the stream after this many seconds (a bounded answer, for
    /// tools that read the whole body); omitted, it lasts until the client
    /// or the server closes it.
    #[param(minimum = 0, maximum = 86400)]
    pub max_wait: Option<u64>,
    /// For a browser's `EventSource`, which cannot send headers: the bearer
    /// token, used only when `Authorization` is absent.
    pub access_token: Option<String>,
    /// For a browser's `EventSource`: the org, used only when `x-org` is
    /// absent.
    pub org: Option<String>,
}

/// The same changes as server-sent events: `id:` the event id, `event:`
/// its type, `data:` the event as JSON; a comment line every
/// `EVENT_HEARTBEAT_SECONDS`.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", operation_id = "stream_events",
    security(("bearer" = [], "org" = [])),
    params(StreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received; the stream resumes after it (before `after`)")),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 410, description = "Events after the cursor are past their retention (`events_expired`)", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "Too many requests: the org's rate limit (`rate_limited`), or `EVENT_STREAMS_PER_ORG` streams of the org already open on this process (`too_many_streams`)", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn stream_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<impl IntoResponse, AppError> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty());
    let after = match last {
        Some(id) => Some(id.parse::<Position>()?),
        None => position(params.after.as_deref())?,
    };
    if params.max_wait.is_some_and(|s| s > 86_400) {
        return Err(
            shared::DomainError::invalid("max_wait", "must be at most 86400 seconds").into(),
        );
    }
    let heartbeat = state.config.event_heartbeat;
    let slot = state.events.admit(caller.org_id()).ok_or_else(|| {
        AppError::rate_limited(
            Code::TooManyStreams,
            heartbeat,
            "of change-feed streams for this org",
        )
    })?;
    let viewer = viewer(&state, &caller).await?;
    let subscription = state.events.subscribe(&state.pool, viewer, after).await?;
    let pool = state.pool.clone();
    let batches = futures::stream::unfold(
        (subscription, pool, slot),
        |(mut subscription, pool, slot)| async move {
            match subscription.next(&pool).await {
                Ok(Some(batch)) => Some((batch, (subscription, pool, slot))),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed stream ended");
                    None
                }
            }
        },
    );
    let events = batches
        .flat_map(futures::stream::iter)
        .map(|event| Ok::<_, Infallible>(sse(&event)))
        .take_until(state.events.closed());
    let events = match params.max_wait {
        Some(seconds) => events
            .take_until(tokio::time::sleep(Duration::from_secs(seconds)))
            .boxed(),
        None => events.boxed(),
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")))
}

fn sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.clone())
        .event(event.kind.clone())
        .json_data(event)
        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable event"))
}

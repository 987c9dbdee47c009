//! The client address of a request and the per-address limit of the
//! unauthenticated routes (SPEC 5.12).
//!
//! The address is the peer's, or what trusted proxies say they forwarded
//! for ([`shared::client_addr`], `TRUSTED_PROXIES`). [`limit_public`] runs
//! on every route that answers without credentials except the probes:
//! each client address (an IPv6 client by its /64) may send
//! `PUBLIC_RATE_LIMIT_PER_MINUTE` requests a minute across all replicas,
//! counted in the same shared buckets as the per-org limit
//! ([`shared::rate_limit`]); beyond that it is 429 `client_rate_limited`
//! with `Retry-After`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use shared::Code;
use shared::client_addr::ClientKey;
use shared::rate_limit::Bucket;

use crate::AppState;
use crate::problem::AppError;

/// The client's address; `None` only when the server was not started
/// with connection info (never in the binary).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    fn of(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> Self {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Self(peer.map(|peer| {
            state.config.trusted_proxies.client_addr(
                peer,
                headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            )
        }))
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self::of(state, &parts.headers, &parts.extensions))
    }
}

/// Middleware for the unauthenticated routes. While the database is down
/// the limit is not applied (the documents still answer; other routes
/// answer 503 themselves), and a limiter error lets the request through:
/// the limit guards capacity, it is not an access rule.
pub async fn limit_public(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let client = ClientAddr::of(&state, request.headers(), request.extensions());
    let Some(addr) = client.0 else {
        return Ok(next.run(request).await);
    };
    if !state.public_rate_limit.enabled() || !state.db_health.is_up() {
        return Ok(next.run(request).await);
    }
    let bucket = Bucket::Client(ClientKey::from(addr));
    match state.public_rate_limit.take(&state.pool, bucket).await {
        Ok(None) => Ok(next.run(request).await),
        Ok(Some(wait)) => Err(AppError::rate_limited(
            Code::ClientRateLimited,
            wait,
            "from this address",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "the public rate limit could not be checked; letting the request through");
            Ok(next.run(request).await)
        }
    }
}

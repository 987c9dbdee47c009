//! Machine authentication for `/internal/*`: `X-Internal-API-Key` (alias
//! `x-api-key`) against `INTERNAL_API_KEYS`. A user JWT never opens these
//! routes. A machine call acting for a tenant names it with `x-org`.
//!
//! The ops dashboard's browser session (an HttpOnly, SameSite=Strict cookie
//! got by logging in with the key at `/ops`) opens `/internal/ops/*` too;
//! its writes also need the `x-ops-csrf` header, which a cross-site form
//! cannot send.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use shared::Code;
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::org_header;
use crate::problem::AppError;

/// A verified machine caller, possibly acting for a tenant.
#[derive(Clone, Copy, Debug)]
pub struct InternalCaller {
    pub org_id: Option<Uuid>,
    /// Who acts, for audit: `internal-key` or `ops-session`.
    pub actor: &'static str,
}

/// The dashboard's session cookie.
pub const OPS_COOKIE: &str = "kisum_ops";

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request carries a live dashboard session.
pub async fn has_session(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<bool, AppError> {
    let Some(token) = cookie(headers, OPS_COOKIE).filter(|t| !t.is_empty() && t.len() <= 128)
    else {
        return Ok(false);
    };
    let mut conn = state.pool.acquire().await?;
    Ok(shared::ops::session_valid(&mut conn, token).await?)
}

/// Middleware on the `/internal` router: 401 without a valid key.
pub async fn require_internal_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let headers = request.headers();
    let presented = headers
        .get("x-internal-api-key")
        .or_else(|| headers.get("x-api-key"))
        .and_then(|v| v.to_str().ok());
    let actor = match presented {
        Some(key) if state.internal_keys.verify(key) => "internal-key",
        Some(_) => {
            return Err(key_challenge(AppError::new(
                StatusCode::UNAUTHORIZED,
                Code::InvalidInternalKey,
                "the internal API key is not valid",
            )));
        }
        None if request.uri().path().starts_with("/internal/ops/")
            && has_session(&state, request.headers()).await? =>
        {
            let safe = matches!(*request.method(), Method::GET | Method::HEAD);
            if !safe && !request.headers().contains_key("x-ops-csrf") {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    Code::CsrfHeaderRequired,
                    "dashboard actions need the x-ops-csrf header",
                ));
            }
            "ops-session"
        }
        None => {
            return Err(key_challenge(AppError::new(
                StatusCode::UNAUTHORIZED,
                Code::InternalKeyRequired,
                "internal routes need X-Internal-API-Key; user tokens are not accepted",
            )));
        }
    };
    let org_id = org_header(request.headers())?;
    request
        .extensions_mut()
        .insert(InternalCaller { org_id, actor });
    Ok(next.run(request).await)
}

fn key_challenge(error: AppError) -> AppError {
    error.with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("ApiKey header=\"X-Internal-API-Key\""),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for InternalCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<InternalCaller>()
            .copied()
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!(
                    "InternalCaller extracted on a route without require_internal_key"
                ))
            })
    }
}

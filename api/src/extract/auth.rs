//! User authentication and tenancy for `/api/v1/*` (SPEC section 3).
//!
//! [`require_org`] runs on every tenant route: bearer token (401), then
//! `x-org` (400), then effective access (403 not a member, 503 when Auth
//! cannot answer), then the per-org rate limit (429). Handlers read the
//! outcome with the [`Caller`] extractor and check one permission key.
//!
//! One route takes its credentials from the query too: the change-feed
//! stream ([`STREAM_PATH`]), which a browser's `EventSource` opens without
//! headers. There, and only there, `access_token` and `org` stand for the
//! `Authorization` and `x-org` headers when those are absent (the logs keep
//! paths, never queries; docs/http-api.md says what a browser should do).

use shared::Code;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use shared::auth::{OrgAccess, Permission};
use uuid::Uuid;

use crate::AppState;
use crate::problem::AppError;

/// The authenticated caller acting in one org.
#[derive(Clone, Debug)]
pub struct Caller {
    pub access: Arc<OrgAccess>,
    pub email: Option<String>,
}

impl Caller {
    pub fn org_id(&self) -> Uuid {
        self.access.org_id
    }

    pub fn user_id(&self) -> &str {
        &self.access.user_id
    }

    /// 403 unless the caller holds `permission` in this org.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.access.can(permission) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                Code::PermissionDenied,
                format!("this action needs the {} permission", permission.key()),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "Caller extracted on a route without require_org"
            ))
        })
    }
}

/// The bearer token of a request, or 401.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AppError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        AppError::unauthorized(
            Code::MissingToken,
            "an Authorization: Bearer token is required",
        )
    })?;
    let value = value.to_str().map_err(|_| {
        AppError::unauthorized(Code::InvalidToken, "the Authorization header is not text")
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(AppError::unauthorized(
            Code::InvalidToken,
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}

/// The org named by `x-org`: `Ok(None)` when absent, 400 when malformed.
pub fn org_header(headers: &HeaderMap) -> Result<Option<Uuid>, AppError> {
    let Some(value) = headers.get("x-org") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
        .map(Some)
        .ok_or_else(|| AppError::bad_request(Code::InvalidOrgHeader, "x-org must be an org UUID"))
}

/// The route whose credentials may come in the query (see the module docs).
pub const STREAM_PATH: &str = "/api/v1/events/stream";

/// `access_token` and `org` of the stream route's query, standing for the
/// absent headers.
fn query_credentials(request: &Request) -> (Option<String>, Option<String>) {
    if request.uri().path() != STREAM_PATH {
        return (None, None);
    }
    #[derive(serde::Deserialize)]
    struct Credentials {
        access_token: Option<String>,
        org: Option<String>,
    }
    axum::extract::Query::<Credentials>::try_from_uri(request.uri())
        .map(|q| (q.0.access_token, q.0.org))
        .unwrap_or_default()
}

/// Middleware for tenant routes; see the module docs for the order of checks.
pub async fn require_org(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (query_token, query_org) = query_credentials(&request);
    let headers = request.headers();
    let token = match query_token {
        Some(token) if !headers.contains_key(header::AUTHORIZATION) && !token.is_empty() => token,
        _ => bearer_token(headers)?.to_owned(),
    };
    let claims = state.verifier.verify(&token).await?;
    let org_id = match query_org {
        Some(org) if !headers.contains_key("x-org") => {
            Some(Uuid::parse_str(org.trim()).map_err(|_| {
                AppError::bad_request(Code::InvalidOrgHeader, "org must be an org UUID")
            })?)
        }
        _ => org_header(headers)?,
    }
    .ok_or_else(|| AppError::bad_request(Code::MissingOrgHeader, "the x-org header is required"))?;
    let access = state.access.resolve(&claims, org_id).await?;
    check_rate(&state, org_id).await?;
    request.extensions_mut().insert(Caller {
        access: Arc::new(access),
        email: claims.email,
    });
    Ok(next.run(request).await)
}

/// Answers 429 with `Retry-After` when the org's bucket is empty (see
/// [`shared::rate_limit`]).
async fn check_rate(state: &AppState, org_id: Uuid) -> Result<(), AppError> {
    match state.rate_limit.take(&state.pool, org_id).await? {
        None => Ok(()),
        Some(wait) => Err(AppError::rate_limited(
            Code::RateLimited,
            wait,
            "for this org",
        )),
    }
}

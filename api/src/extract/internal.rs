//! Machine authentication for `/internal/*`: `X-Internal-API-Key` (alias
//! `x-api-key`) against `INTERNAL_API_KEYS`. A user JWT never opens these
//! routes. A machine call acting for a tenant names it with `x-org`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::org_header;
use crate::problem::AppError;

/// A verified machine caller, possibly acting for a tenant.
#[derive(Clone, Copy, Debug)]
pub struct InternalCaller {
    pub org_id: Option<Uuid>,
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
    match presented {
        Some(key) if state.internal_keys.verify(key) => {}
        Some(_) => {
            return Err(key_challenge(AppError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_internal_key",
                "the internal API key is not valid",
            )));
        }
        None => {
            return Err(key_challenge(AppError::new(
                StatusCode::UNAUTHORIZED,
                "internal_key_required",
                "internal routes need X-Internal-API-Key; user tokens are not accepted",
            )));
        }
    }
    let org_id = org_header(request.headers())?;
    request.extensions_mut().insert(InternalCaller { org_id });
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

//! `Idempotency-Key` on creates (SPEC section 4), as one layer on the
//! tenant router: a POST carrying the header is run at most once per org and
//! key. The same key and body replays the first response (with
//! `Idempotent-Replayed: true`); a different body is 422; a retry while the
//! first is running is 409. A 5xx outcome is not kept, so a retry runs again.
//! A claim whose process died before recording its outcome is taken over
//! after `STALE_LOCK_SECONDS` (longer than any request may run).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use shared::Code;
use shared::idempotency::{self, Claim};

use crate::AppState;
use crate::extract::auth::Caller;
use crate::problem::{AppError, with_request_id};

const HEADER: &str = "idempotency-key";
/// Response headers kept and replayed with the body.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// A create whose answer carries a secret shown once (a calendar feed
/// token): it is never recorded, so the secret is not stored, and a retry
/// makes a new one (revoking the first).
fn answers_a_secret(path: &str) -> bool {
    path.ends_with("/calendar-subscription")
}

pub async fn idempotency(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if request.method() != Method::POST
        || !request.headers().contains_key(HEADER)
        || answers_a_secret(request.uri().path())
    {
        return Ok(next.run(request).await);
    }
    let key = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            AppError::bad_request(
                Code::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 visible characters",
            )
        })?
        .to_owned();
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("idempotency layer outside require_org"))
        })?;
    let org_id = caller.org_id();

    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, state.config.body_limit_bytes)
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::BodyTooLarge,
                format!("the body exceeds {} bytes", state.config.body_limit_bytes),
            )
        })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b"\n");
    hasher.update(parts.uri.path());
    hasher.update(b"\n");
    hasher.update(caller.user_id());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hasher.finalize();

    match idempotency::claim(&state.pool, org_id, &key, &hash).await? {
        Claim::Acquired => {}
        Claim::InProgress => {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                Code::IdempotencyInProgress,
                "a request with this Idempotency-Key is still being processed",
            ));
        }
        Claim::Mismatch => {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::IdempotencyKeyReused,
                "this Idempotency-Key was used with a different request",
            ));
        }
        Claim::Replay(stored) => {
            let status = StatusCode::from_u16(u16::try_from(stored.response_status).unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, stored.response_body).into_response();
            for (name, value) in stored.response_headers.0 {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::try_from(name), HeaderValue::try_from(value))
                {
                    response.headers_mut().insert(name, value);
                }
            }
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
    }

    // The handler and the recording of its outcome run to the end in their
    // own task: a client that disconnects, or a timeout, must not leave a
    // committed change without its recorded response (a retry would then
    // run it twice).
    let request = Request::from_parts(parts, Body::from(bytes));
    let pool = state.pool.clone();
    let outcome = tokio::spawn(with_request_id(async move {
        let response = next.run(request).await;
        record(&pool, org_id, &key, response).await
    }));
    outcome
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("idempotent request task failed: {e}")))?
}

/// Keeps the outcome for replays (a 5xx frees the key instead).
async fn record(
    pool: &sqlx::PgPool,
    org_id: uuid::Uuid,
    key: &str,
    response: Response,
) -> Result<Response, AppError> {
    if response.status().is_server_error() {
        idempotency::release(pool, org_id, key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("buffering a response: {e}")))?;
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| (name.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    idempotency::complete(pool, org_id, key, parts.status.as_u16(), headers, &bytes).await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

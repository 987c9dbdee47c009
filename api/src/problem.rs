//! Every error leaves the API as RFC 9457 `application/problem+json`.
//!
//! Policy: handlers return [`AppError`] (mostly via `?` on a
//! [`DomainError`]); this module is the only place that chooses a status,
//! a stable `code` and the words a client sees. Internal causes are logged
//! once here, with the request id, and never sent: a 500 says only that
//! something failed. Responses produced by axum or tower themselves (404 for
//! an unknown route, 405, timeouts) are rewritten to problem+json by
//! [`problem_fallback`].

use axum::extract::Request;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::Code;
use shared::auth::{AccessError, JwtError};
use shared::{DomainError, FieldError};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` with a `code` otherwise.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_json`, `stale_version`.
    pub code: String,
    pub request_id: Option<String>,
    /// Field errors of a validation failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// The error every handler and extractor returns.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: Code,
    pub detail: String,
    pub errors: Option<Vec<FieldError>>,
    /// Extra headers: `WWW-Authenticate`, `Retry-After`.
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    /// The cause, logged, never shown.
    pub source: Option<anyhow::Error>,
}

impl AppError {
    pub fn new(status: StatusCode, code: Code, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: None,
            headers: Vec::new(),
            source: None,
        }
    }

    pub fn bad_request(code: Code, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(code: Code, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"kisum-artist\""),
        )
    }

    pub fn forbidden(code: Code, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn unavailable(code: Code, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    pub fn internal(source: anyhow::Error) -> Self {
        Self {
            source: Some(source),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::InternalError,
                "the request could not be completed; it has been logged",
            )
        }
    }

    /// 429 with `Retry-After`: `wait`, in whole seconds rounded up, at
    /// least one.
    pub fn rate_limited(code: Code, wait: std::time::Duration, who: &str) -> Self {
        let seconds = u64::try_from(wait.as_millis().div_ceil(1000).max(1)).unwrap_or(u64::MAX);
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            format!("too many requests {who}; retry in {seconds} s"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// The title of a status: its canonical reason phrase.
fn title(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Error").to_owned()
}

tokio::task_local! {
    /// Set by [`problem_fallback`] around each request so every problem body,
    /// however deep it is produced, carries the request id.
    static REQUEST_ID: String;
}

/// Carries the current request id into a spawned task's future.
pub fn with_request_id<F: std::future::Future>(
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    let id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
    REQUEST_ID.scope(id, future)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        if let Some(source) = &self.source {
            tracing::error!(
                request_id = request_id.as_deref().unwrap_or_default(),
                error = ?source,
                "request failed"
            );
        }
        let body = Problem {
            kind: "about:blank".to_owned(),
            title: title(self.status),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.as_str().to_owned(),
            request_id,
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                "no such record, or it is not visible to this org",
            ),
            DomainError::Forbidden(detail) => Self::forbidden(Code::Forbidden, detail),
            DomainError::Conflict { code, detail } => Self::new(StatusCode::CONFLICT, code, detail),
            DomainError::StaleVersion => Self::new(
                StatusCode::PRECONDITION_FAILED,
                Code::StaleVersion,
                "the record changed since it was read; fetch it again and retry",
            ),
            DomainError::Validation(errors) => Self {
                errors: Some(errors),
                ..Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Code::ValidationFailed,
                    "the request has invalid fields",
                )
            },
            DomainError::Unprocessable { code, detail } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
            }
            DomainError::Gone { code, detail } => Self::new(StatusCode::GONE, code, detail),
            DomainError::Unavailable(reason) => Self {
                // Logged with the request id, like any failure of ours.
                source: Some(anyhow::anyhow!("database unavailable: {reason}")),
                ..Self::unavailable(
                    Code::DatabaseUnavailable,
                    "the database is unavailable; retry shortly (a create with the same \
                     Idempotency-Key, should this request have completed after all)",
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
            },
            DomainError::Internal(source) => Self::internal(source),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        DomainError::from(err).into()
    }
}

impl From<JwtError> for AppError {
    fn from(err: JwtError) -> Self {
        match err {
            JwtError::Invalid(reason) => Self::unauthorized(Code::InvalidToken, reason),
            JwtError::KeysUnavailable(reason) => Self {
                source: Some(anyhow::anyhow!(reason)),
                ..Self::unavailable(
                    Code::AuthUnavailable,
                    "token signing keys cannot be fetched from Auth",
                )
            },
        }
    }
}

impl From<AccessError> for AppError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::NotMember => Self::forbidden(
                Code::NotAMember,
                "the caller is not a member of the org in x-org",
            ),
            AccessError::Unavailable(reason) => Self {
                source: Some(anyhow::anyhow!(reason)),
                ..Self::unavailable(
                    Code::AccessUnavailable,
                    "effective access cannot be resolved from Auth; retry shortly",
                )
            },
        }
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => Code::InvalidBody,
            JsonRejection::JsonSyntaxError(_) => Code::InvalidJson,
            JsonRejection::MissingJsonContentType(_) => Code::UnsupportedMediaType,
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => Code::BodyTooLarge,
            _ => Code::InvalidBody,
        };
        // serde's message names the field and the expected type; it holds no
        // internals, so it is useful to clients as is.
        Self::new(status, code, rejection.body_text())
    }
}

impl From<BytesRejection> for AppError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            Code::BodyTooLarge
        } else {
            Code::InvalidBody
        };
        Self::new(status, code, rejection.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(Code::InvalidPath, rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(Code::InvalidQuery, rejection.body_text())
    }
}

/// Middleware: binds the request id for problem bodies, and turns error
/// responses that axum or tower produced without a body of ours (unknown
/// route, wrong method, timeout) into problem+json, keeping their headers.
pub async fn problem_fallback(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    REQUEST_ID
        .scope(request_id, async move {
            let response = next.run(request).await;
            let status = response.status();
            let is_problem = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
            // Pages (the ops dashboard's sign-in) answer errors in HTML.
            let is_page = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
            if !(status.is_client_error() || status.is_server_error()) || is_problem || is_page {
                return response;
            }
            let code = match status {
                StatusCode::NOT_FOUND => Code::RouteNotFound,
                StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
                StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                    Code::RequestTimeout
                }
                StatusCode::PAYLOAD_TOO_LARGE => Code::BodyTooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
                s if s.is_server_error() => Code::InternalError,
                _ => Code::BadRequest,
            };
            let detail = match status {
                StatusCode::NOT_FOUND => "no route matches this path".to_owned(),
                StatusCode::METHOD_NOT_ALLOWED => "this path does not accept the method".to_owned(),
                StatusCode::REQUEST_TIMEOUT => {
                    "the request took too long and was stopped".to_owned()
                }
                s => title(s),
            };
            let (parts, _) = response.into_parts();
            let mut rewritten = AppError::new(status, code, detail).into_response();
            for (name, value) in &parts.headers {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    rewritten.headers_mut().insert(name.clone(), value.clone());
                }
            }
            rewritten
        })
        .await
}

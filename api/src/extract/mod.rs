//! Extractors and middleware: authentication, tenancy, idempotency, the
//! client address and its limit, and rejection-to-problem wrappers around
//! axum's own extractors.

pub mod auth;
pub mod client;
pub mod conditional;
pub mod consistency;
pub mod idempotency;
pub mod internal;
pub mod pagination;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::Code;

use crate::problem::AppError;

/// `axum::Json` whose rejections (bad JSON, wrong types, wrong content
/// type, oversize body) are problem+json. Only a JSON object is taken:
/// serde would otherwise fill a struct from an array, field by position.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let (parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state).await?;
        let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let axum::Json(value) =
            axum::Json::<T>::from_request(Request::from_parts(parts, Body::from(bytes)), state)
                .await?;
        if !is_object {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::InvalidBody,
                "the body must be a JSON object",
            ));
        }
        Ok(Self(value))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// [`Json`] for a body that may be left out: no body and no content type
/// is `T::default()`; anything else must be a valid JSON object.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let (parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state).await?;
        if bytes.is_empty() && !parts.headers.contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(Self(T::default()));
        }
        let Json(value) =
            Json::<T>::from_request(Request::from_parts(parts, Body::from(bytes)), state).await?;
        Ok(Self(value))
    }
}

/// `axum::extract::Path` with problem+json rejections (e.g. a bad UUID).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` with problem+json rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// `If-Match` carrying a record version (`"3"` or `W/"3"`); `None` when
/// absent or `*` (any current version). A value that is not a version we
/// issued is 412, as it cannot match the current one.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(axum::http::header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let value = value.to_str().map(str::trim).unwrap_or_default();
        if value == "*" {
            return Ok(Self(None));
        }
        value
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse()
            .map(|v| Self(Some(v)))
            .map_err(|_| shared::DomainError::StaleVersion.into())
    }
}

/// The `ETag` of a record version.
pub fn etag(version: i32) -> [(axum::http::HeaderName, String); 1] {
    [(axum::http::header::ETAG, format!("\"{version}\""))]
}

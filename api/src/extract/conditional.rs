//! Conditional reads (RFC 9110 13.1.2): a `GET` that carries
//! `If-None-Match` with the `ETag` the answer would have is answered
//! `304 Not Modified`, without a body. The `ETag` of a record is its
//! version, so a client holding the current version re-reads nothing.
//!
//! [`not_modified`] does it for every `GET` whose answer carries an
//! `ETag` (after the handler, so every access check has run); a handler on
//! a hot path may answer earlier from the version alone with
//! [`IfNoneMatch`], sparing the read of the record.

use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::etag;

/// The entity tags of `If-None-Match`; `None` when absent.
#[derive(Debug, Clone, Default)]
pub struct IfNoneMatch(Option<String>);

impl IfNoneMatch {
    fn of(headers: &HeaderMap) -> Self {
        Self(
            headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        )
    }

    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }

    /// Whether the header names `etag` (weak comparison) or is `*`.
    pub fn matches(&self, etag: &str) -> bool {
        let Some(list) = &self.0 else {
            return false;
        };
        let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
        let wanted = opaque(etag);
        list.split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || opaque(tag) == wanted)
    }

    /// `304` for a record at `version`, when the client has it.
    pub fn unchanged(&self, version: i32) -> Option<Response> {
        let [(_, tag)] = etag(version);
        self.matches(&tag).then(|| not_modified_response(&tag))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers))
    }
}

fn not_modified_response(tag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Middleware: a successful `GET` whose `ETag` the client already has
/// becomes `304` with that `ETag` and no body.
pub async fn not_modified(request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let condition = IfNoneMatch::of(request.headers());
    let response = next.run(request).await;
    if condition.0.is_none() || response.status() != StatusCode::OK {
        return response;
    }
    match response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        Some(tag) if condition.matches(tag) => {
            let mut unchanged = not_modified_response(tag);
            for name in [header::CACHE_CONTROL, header::VARY] {
                if let Some(value) = response.headers().get(&name) {
                    unchanged.headers_mut().insert(name, value.clone());
                }
            }
            unchanged
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> IfNoneMatch {
        IfNoneMatch(Some(value.to_owned()))
    }

    #[test]
    fn entity_tags_compare_weakly_in_a_list_or_as_a_star() {
        assert!(header("\"3\"").matches("\"3\""));
        assert!(header("W/\"3\"").matches("\"3\""));
        assert!(header("\"1\", W/\"3\"").matches("\"3\""));
        assert!(header("*").matches("\"7\""));
        assert!(!header("\"2\"").matches("\"3\""));
        assert!(!header("3").matches("\"3\""));
        assert!(!IfNoneMatch::default().matches("\"3\""));
        assert!(header("\"4\"").unchanged(4).is_some());
        assert!(header("\"4\"").unchanged(5).is_none());
    }
}

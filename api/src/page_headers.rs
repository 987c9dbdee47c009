//! The security headers of every HTML page the service serves, in one
//! layer ([`page_headers`], outermost but for request ids and tracing), so
//! no handler sets them and none can forget them.
//!
//! Every answer gets `X-Content-Type-Options: nosniff`. An HTML answer
//! also gets `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` (for
//! browsers older than `frame-ancestors`) and the `Content-Security-Policy`
//! of its kind of page ([`policy`]): none runs inline script or style
//! except by hash, none may be framed, and none loads anything from
//! another origin.

use std::sync::LazyLock;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The ops dashboard and its sign-in form: our own script, style and
/// images; the script reads `/internal/ops/*`; forms post to `/ops/*`.
const OPS: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'";

/// Swagger UI: its own bundled script and style, the one fixed `<style>`
/// element its bundle adds (allowed by hash; a new Swagger UI version may
/// change it, and the browser test, `tests/browser/ops-dashboard.mjs`,
/// then names the new hash), the images its style sheet inlines as `data:`
/// URLs, and the OpenAPI document it fetches.
const DOCS: &str = "default-src 'none'; script-src 'self'; \
                    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
                    img-src 'self' data:; connect-src 'self'; form-action 'none'; \
                    frame-ancestors 'none'; base-uri 'none'";

/// Day sheets and contract documents: self-contained, no script, their
/// one inline style sheet allowed by its hash.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let hashes: Vec<String> = [
        shared::domain::touring::day_sheet::STYLE,
        shared::domain::contracts::document::HTML_STYLE,
    ]
    .iter()
    .map(|style| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(style))))
    .collect();
    format!(
        "default-src 'none'; style-src {}; form-action 'none'; frame-ancestors 'none'; \
         base-uri 'none'",
        hashes.join(" ")
    )
});

/// The policy of the page at `path`.
fn policy(path: &str) -> &str {
    if path == "/ops" || path.starts_with("/ops/") {
        OPS
    } else if path.starts_with("/api/v1/docs") {
        DOCS
    } else {
        &DOCUMENT
    }
}

/// Middleware: see the module docs.
pub async fn page_headers(request: Request, next: Next) -> Response {
    let csp = HeaderValue::from_str(policy(request.uri().path()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html {
        if let Ok(csp) = csp {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_kind_has_its_policy() {
        assert_eq!(policy("/ops"), OPS);
        assert_eq!(policy("/ops/login"), OPS);
        assert_eq!(policy("/api/v1/docs/"), DOCS);
        let document = policy("/api/v1/tours/x/day-sheets/2026-01-01");
        assert!(document.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!document.contains("unsafe-inline"));
        for policy in [OPS, DOCS, document] {
            assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
            assert!(policy.contains("base-uri 'none'"), "{policy}");
            assert!(HeaderValue::from_str(policy).is_ok(), "{policy}");
        }
    }
}

//! The ops dashboard in the browser: `GET /ops` is a sign-in form until the
//! internal key is posted to `/ops/login` (never in a URL); the answer sets
//! an HttpOnly, SameSite=Strict session cookie and the page then reads
//! `/internal/ops/*` with it. Assets are compiled in, so it works offline.

use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::AppState;
use crate::extract::internal::{OPS_COOKIE, cookie, has_session};
use crate::problem::AppError;

const LOGIN: &str = include_str!("assets/login.html");
const DASHBOARD: &str = include_str!("assets/dashboard.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");
const ICON: &str = include_str!("assets/favicon.svg");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops", get(page))
        .route("/ops/login", post(login))
        .route("/ops/logout", post(logout))
        .route(
            "/ops/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/ops/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/ops/favicon.svg",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Pages are never cached; [`crate::page_headers`] keeps them unframed
/// and running only our own script.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn login_page(status: StatusCode, error: &str) -> Response {
    html(status, LOGIN.replace("{{error}}", error))
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    Ok(if has_session(&state, &headers).await? {
        html(StatusCode::OK, DASHBOARD.to_owned())
    } else {
        login_page(StatusCode::OK, "")
    })
}

#[derive(Deserialize)]
struct LoginForm {
    key: String,
}

/// The cookie; `Secure` when the request came over HTTPS (directly or
/// through a proxy that says so).
fn session_cookie(headers: &HeaderMap, value: &str, max_age: i64) -> Result<HeaderValue, AppError> {
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    HeaderValue::from_str(&format!(
        "{OPS_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    ))
    .map_err(|e| AppError::internal(anyhow::anyhow!(e)))
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Ok(Form(form)) = form else {
        return Ok(login_page(StatusCode::BAD_REQUEST, "Enter the key."));
    };
    if !state.internal_keys.verify(form.key.trim()) {
        tracing::warn!("ops dashboard sign-in with a wrong key");
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            "That key is not valid.",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let token = shared::ops::open_session(&mut conn).await?;
    let cookie = session_cookie(&headers, &token, shared::ops::SESSION_HOURS * 3600)?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/ops")).into_response())
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(token) = cookie(&headers, OPS_COOKIE) {
        let mut conn = state.pool.acquire().await?;
        shared::ops::close_session(&mut conn, token).await?;
    }
    let cookie = session_cookie(&headers, "", 0)?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/ops")).into_response())
}

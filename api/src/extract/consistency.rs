//! Read-your-writes (SPEC 5.11). A successful write answers with
//! `Consistency-Token`, the primary's WAL position after its commit
//! ([`token_after_write`]); a read that tolerates lag takes the token back
//! ([`Consistency`]) and reads on the replica only once it has replayed
//! past it ([`shared::replica::Reads`], through [`replica_read!`]).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use shared::Code;
use shared::replica::{HEADER, Lsn};

use crate::AppState;
use crate::problem::AppError;

/// The token a read sent back; `None` when absent. A value that is not a
/// token is refused (400 `invalid_consistency_token`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Consistency(pub Option<Lsn>);

impl<S: Send + Sync> FromRequestParts<S> for Consistency {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(HEADER) else {
            return Ok(Self(None));
        };
        value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<Lsn>().ok())
            .map(|lsn| Self(Some(lsn)))
            .ok_or_else(|| {
                AppError::bad_request(
                    Code::InvalidConsistencyToken,
                    "Consistency-Token must be the value a write answered with",
                )
            })
    }
}

/// Middleware: a successful write (any method but `GET`, `HEAD` and
/// `OPTIONS`) answers with `Consistency-Token`, read from the primary once
/// the handler has committed. Should that read fail, the answer goes
/// without it (the write stands; a read without a token still honours the
/// lag bound).
pub async fn token_after_write(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let mut response = next.run(request).await;
    if writes && response.status().is_success() {
        match state.reads.token().await {
            Ok(lsn) => {
                if let Ok(value) = HeaderValue::from_str(&lsn.to_string()) {
                    response.headers_mut().insert(HEADER, value);
                }
            }
            Err(e) => tracing::warn!(error = %e, "no consistency token for a write"),
        }
    }
    response
}

/// Runs a read that tolerates lag: `replica_read!(state.reads, token,
/// |conn| body)` evaluates `body` (a `Result<_, DomainError>`, which may use
/// `?`) with `conn: &mut PgConnection` from [`shared::replica::Reads::acquire`].
/// When it fails on the replica for want of the database, the replica is
/// marked down and `body` runs again on the primary (a read changes
/// nothing, so running it twice is safe). A macro, not a function taking
/// a closure: the body borrows the handler's locals, and a handler's
/// future must be `Send`.
macro_rules! replica_read {
    ($reads:expr, $token:expr, |$conn:ident| $body:block) => {{
        let reads: &shared::replica::Reads = &$reads;
        let (mut held, server) = reads.acquire($token).await?;
        let first: Result<_, shared::DomainError> = async {
            let $conn: &mut sqlx::PgConnection = &mut held;
            $body
        }
        .await;
        match first {
            Err(shared::DomainError::Unavailable(_))
                if server == shared::replica::Server::Replica =>
            {
                drop(held);
                reads.replica_failed();
                let mut held = reads
                    .primary()
                    .acquire()
                    .await
                    .map_err(shared::DomainError::from)?;
                async {
                    let $conn: &mut sqlx::PgConnection = &mut held;
                    $body
                }
                .await
            }
            answered => answered,
        }
    }};
}
pub(crate) use replica_read;

//! The Kisum Artist API: a thin HTTP layer over `shared`.
//!
//! [`router`] is the whole route table; [`run`] serves it until SIGTERM or
//! SIGINT, then drains in-flight requests.

pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod page_headers;
pub mod problem;
pub mod routes;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Method, Request, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use shared::auth::{AccessResolver, InternalKeys, JwtVerifier};
use shared::config::{ApiConfig, CorsPolicy};
use shared::db::DbHealth;
use shared::domain::events::hub::Hub;
use shared::domain::read_models::search::index::SearchIndex;
use shared::rate_limit::RateLimit;
use shared::replica::Reads;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::extract::auth::require_org;
use crate::extract::client::limit_public;
use crate::extract::idempotency::idempotency;
use crate::extract::internal::require_internal_key;

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<ApiConfig>,
    pub verifier: JwtVerifier,
    pub access: AccessResolver,
    pub internal_keys: InternalKeys,
    /// The per-org rate limit, shared by every replica.
    pub rate_limit: Arc<RateLimit>,
    /// The per-client-address limit of the unauthenticated routes, shared
    /// by every replica.
    pub public_rate_limit: Arc<RateLimit>,
    /// Whether the database answers; see [`shared::db::DbHealth`].
    pub db_health: DbHealth,
    /// This process's marketplace index, following `artist_search`.
    pub search_index: Arc<SearchIndex>,
    /// Where reads that tolerate lag go: the replica when it can answer,
    /// else the primary ([`shared::replica`]).
    pub reads: Reads,
    /// This process's follower of the change feed, shared by its streams.
    pub events: Arc<Hub>,
}

impl AppState {
    pub fn new(config: ApiConfig, pool: PgPool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("kisum-artist-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let verifier = JwtVerifier::new(&config.jwt, http.clone()).context("JWT_PUBLIC_KEY_PEM")?;
        let access = match &config.auth_access_url {
            Some(url) => AccessResolver::remote(
                url.clone(),
                config.auth_api_key.clone(),
                http,
                config.auth_access_cache_ttl,
                config.auth_access_timeout,
            ),
            None => AccessResolver::Claims,
        };
        let reads = shared::db::reads(&config.database, pool.clone())?;
        Ok(Self {
            pool,
            reads,
            internal_keys: InternalKeys::new(&config.internal_api_keys),
            rate_limit: Arc::new(RateLimit::per_minute(config.rate_limit_per_minute)),
            public_rate_limit: Arc::new(RateLimit::per_minute(config.public_rate_limit_per_minute)),
            verifier,
            access,
            events: Arc::new(Hub::new(config.event_streams_per_org)),
            config: Arc::new(config),
            db_health: DbHealth::new(),
            search_index: Arc::new(SearchIndex::new()),
        })
    }
}

/// Unauthenticated routes, limited per client address.
fn public_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::new()
        .merge(routes::contracts::public_router())
        .merge(routes::itinerary::public_router())
        .layer(from_fn_with_state(state.clone(), limit_public));
    openapi::public_guard(routes.get_openapi_mut());
    routes
}

/// Tenant routes: bearer token + `x-org`, idempotent creates.
fn tenant_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::new()
        .merge(routes::me::router())
        .merge(routes::artists::router())
        .merge(routes::companies::router())
        .merge(routes::availability::router())
        .merge(routes::holds::router())
        .merge(routes::offers::router())
        .merge(routes::requests::router())
        .merge(routes::bookings::router())
        .merge(routes::ownership::router())
        .merge(routes::people::router())
        .merge(routes::representation::router())
        .merge(routes::provider_refs::router())
        .merge(routes::reference::router())
        .merge(routes::shortlists::router())
        .merge(routes::contracts::router())
        .merge(routes::tours::router())
        .merge(routes::itinerary::router())
        .merge(routes::logistics::router())
        .merge(routes::finance::router())
        .merge(routes::relationships::router())
        .merge(routes::dashboards::router())
        .merge(routes::events::router())
        .layer(from_fn_with_state(state.clone(), idempotency))
        .layer(from_fn_with_state(state.clone(), require_org));
    openapi::tenant_guard(routes.get_openapi_mut());
    routes
}

/// Machine routes: internal key only.
fn internal_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::new()
        .merge(ops::api::router())
        .merge(metrics::router())
        .merge(routes::imports::router())
        .merge(routes::ownership_admin::router())
        .merge(routes::finance::internal_router())
        .merge(routes::privacy::router())
        .layer(from_fn_with_state(state.clone(), require_internal_key));
    openapi::internal_guard(routes.get_openapi_mut());
    routes
}

/// Every route with its documentation (what the shared layers answer
/// included), before the outer middleware.
pub fn api_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::with_openapi(openapi::base())
        .merge(routes::health::router())
        .merge(public_routes(state))
        .merge(tenant_routes(state))
        .merge(internal_routes(state));
    openapi::finish(routes.get_openapi_mut());
    routes
}

/// The generated OpenAPI document.
pub fn openapi_document(state: &AppState) -> utoipa::openapi::OpenApi {
    api_routes(state).into_openapi()
}

/// The whole application: routes, docs and middleware.
pub fn router(state: AppState) -> Router {
    let (routes, openapi) = api_routes(&state).split_for_parts();
    let config = state.config.clone();
    let request_id = HeaderName::from_static("x-request-id");
    // The API documents and the ops pages answer without credentials too.
    let pages = Router::new()
        .merge(SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", openapi))
        .merge(ops::router())
        .layer(from_fn_with_state(state.clone(), limit_public));
    Router::new()
        .merge(routes)
        .merge(pages)
        .layer(from_fn_with_state(
            state.clone(),
            extract::consistency::token_after_write,
        ))
        .layer(from_fn_with_state(state.clone(), database_gate))
        .layer(from_fn(extract::conditional::not_modified))
        .with_state(state)
        .layer(from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(from_fn(problem::problem_fallback))
        .layer(from_fn(page_headers::page_headers))
        .layer(cors_layer(&config.cors))
        .layer(from_fn(credentials_only_with_origin))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "http",
                        method = %request.method(),
                        path = %loggable_path(request.uri().path()),
                        request_id = %request_id,
                    )
                }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(from_fn(drop_unusable_request_id))
}

/// The request path as logs may keep it: a calendar feed's path carries
/// its secret token, which is replaced by `{token}`.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/api/v1/tour-feeds/") {
        Some(rest) => {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("/api/v1/tour-feeds/{{token}}{tail}").into()
        }
        None => path.into(),
    }
}

/// How often the database probe runs, and how long one may take: a server
/// that refuses connections is seen down within two probes (half a
/// second), one that stops answering within about three seconds.
const DB_PROBE_INTERVAL: Duration = Duration::from_millis(250);
const DB_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long serving waits for the marketplace index at start; past it,
/// searches go to Postgres until the index is built.
const SEARCH_INDEX_WAIT: Duration = Duration::from_secs(60);

/// Paths that answer without the database: the probes (`/readyz` reports
/// the outage itself), the API documents and `/metrics` (which serves its
/// last queue figures).
fn needs_database(path: &str) -> bool {
    !matches!(
        path,
        "/healthz" | "/readyz" | "/metrics" | "/api/v1/openapi.json"
    ) && !path.starts_with("/api/v1/docs")
}

/// Middleware: while the database is down, answers 503
/// `database_unavailable` with `Retry-After` at once, before the request
/// touches anything. A request already running is never cut short (it may
/// be committing): its own database error is the same 503, at the latest
/// after `DATABASE_ACQUIRE_TIMEOUT_SECONDS` of waiting for a connection.
async fn database_gate(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if needs_database(request.uri().path()) && !state.db_health.is_up() {
        return problem::AppError::unavailable(
            shared::Code::DatabaseUnavailable,
            "the database is unavailable; nothing was done, retry shortly",
        )
        .with_header(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        )
        .into_response();
    }
    next.run(request).await
}

/// A caller's `x-request-id` is kept only when it is 1-128 visible ASCII
/// characters; otherwise a fresh one is made.
async fn drop_unusable_request_id(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let usable = request.headers().get("x-request-id").is_none_or(|v| {
        (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
    });
    if !usable {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

/// CORS per SPEC section 3; see [`CorsPolicy`].
fn cors_layer(policy: &CorsPolicy) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static(shared::replica::HEADER),
            HeaderName::from_static("x-org"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("last-event-id"),
            header::CACHE_CONTROL,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static(shared::replica::HEADER),
        ])
        .max_age(Duration::from_secs(600));
    match policy {
        CorsPolicy::Disabled => CorsLayer::new(),
        CorsPolicy::Wildcard => base.allow_origin(Any),
        CorsPolicy::AllowList(origins) => base
            .allow_origin(AllowOrigin::list(
                origins.iter().filter_map(|o| o.parse().ok()),
            ))
            .allow_credentials(true),
    }
}

/// `Access-Control-Allow-Credentials` goes only with an allowed origin.
async fn credentials_only_with_origin(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if !response
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        response
            .headers_mut()
            .remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
    response
}

/// The runtime both the binary and tests serve on. Worker threads get 8 MiB
/// stacks: handler futures are large in unoptimised builds.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
}

/// Serves until a shutdown signal, then lets in-flight requests finish.
pub async fn run(config: ApiConfig) -> anyhow::Result<()> {
    let pool = shared::db::pool(&config.database)?;
    let addr = std::net::SocketAddr::new(config.host, config.port);
    let run_migrations = config.run_migrations_on_start;
    let state = AppState::new(config, pool.clone())?;
    if run_migrations {
        shared::db::migrate(&pool).await?;
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (HOST/PORT)"))?;
    tracing::info!(%addr, "kisum-api listening");
    serve(listener, state, shared::shutdown::signal()).await?;
    pool.close().await;
    Ok(())
}

/// Serves `state` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limiters = [state.rate_limit.clone(), state.public_rate_limit.clone()];
    let pruner = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            for limiter in &limiters {
                limiter.prune_local();
            }
        }
    });
    let probe = tokio::spawn(state.db_health.clone().probe(
        (*state.pool.connect_options()).clone(),
        DB_PROBE_INTERVAL,
        DB_PROBE_TIMEOUT,
    ));
    match tokio::time::timeout(SEARCH_INDEX_WAIT, state.search_index.build(&state.pool)).await {
        Ok(Ok(artists)) => tracing::info!(artists, "marketplace index built"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "marketplace index not built yet; searching Postgres")
        }
        Err(_) => tracing::warn!("marketplace index not built in time; searching Postgres"),
    }
    let follower = tokio::spawn(state.search_index.clone().follow(state.pool.clone()));
    // Audit chains written before personal values were committed apart.
    let upgrade = {
        let (pool, key) = (
            state.pool.clone(),
            state.config.contract_signing_key.clone(),
        );
        tokio::spawn(async move {
            match shared::domain::contracts::audit::upgrade_all(&pool, &key).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(contracts = n, "contract audit chains upgraded"),
                Err(e) => tracing::warn!(error = %e, "upgrading contract audit chains failed"),
            }
        })
    };
    let replica = tokio::spawn(state.reads.clone().monitor());
    let events = tokio::spawn(state.events.clone().follow(state.pool.clone()));
    let grace = state.config.shutdown_grace;
    let (draining_tx, mut draining) = tokio::sync::watch::channel(false);
    let hub = state.events.clone();
    let server = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Open change-feed streams would hold the drain for the whole grace.
        hub.close();
        let _ = draining_tx.send(true);
    });
    let deadline = async move {
        if draining.wait_for(|d| *d).await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server.into_future() => result.context("serving HTTP"),
        () = deadline => {
            tracing::warn!("shutdown grace period over; dropping open connections");
            Ok(())
        }
    };
    probe.abort();
    pruner.abort();
    follower.abort();
    upgrade.abort();
    replica.abort();
    events.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn feed_tokens_stay_out_of_logged_paths() {
        assert_eq!(
            loggable_path("/api/v1/tour-feeds/s3cr3t-t0ken/itinerary.ics"),
            "/api/v1/tour-feeds/{token}/itinerary.ics"
        );
        assert_eq!(
            loggable_path("/api/v1/tour-feeds/s3cr3t"),
            "/api/v1/tour-feeds/{token}"
        );
        assert_eq!(loggable_path("/api/v1/tours"), "/api/v1/tours");
    }
}

//! `GET /metrics` in Prometheus text format (internal key): HTTP request
//! counts and latencies by route, recorded by [`track`], and the job
//! queue's state. The queue is shared by every worker process, so no one
//! process could count it: one replica counts it at most every 10 s into
//! `ops_snapshots`, and a scrape of any replica reads that row.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::extract::internal::InternalCaller;
use crate::problem::{AppError, Problem};

/// How old the shared queue counts may be when a replica is scraped.
const QUEUE_STATS_MAX_AGE_SECONDS: f64 = 10.0;

/// Latency buckets in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                BUCKETS,
            )
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may exist already (tests run many apps in one
        // process); the handle then still renders this one's registry.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Middleware: counts and times every request by method, route template
/// and status.
pub async fn track(request: Request, next: Next) -> Response {
    let _ = handle();
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics: `http_requests_total`, `http_request_duration_seconds`,
/// `kisum_jobs{queue,state}`, `kisum_job_oldest_pending_seconds`,
/// `kisum_job_run_seconds{quantile}` and `kisum_job_failures_last_hour`.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
              (status = 401, body = Problem)))]
async fn metrics(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> Result<Response, AppError> {
    // Queue counts are shared by every replica for a few seconds; while
    // the database is down the gauges keep their last values.
    let stats = if state.db_health.is_up() {
        shared::ops::fleet::queue_stats_cached(&state.pool, QUEUE_STATS_MAX_AGE_SECONDS)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "metrics: queue counts unavailable"))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for q in stats {
        let queue = q.queue;
        for (s, n) in [
            ("pending", q.pending),
            ("scheduled", q.scheduled),
            ("running", q.running),
            ("done_last_hour", q.done_last_hour),
            ("failed", q.failed),
            ("dead", q.dead),
            ("killed", q.killed),
        ] {
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!("kisum_jobs", "queue" => queue.clone(), "state" => s).set(n as f64);
        }
        metrics::gauge!("kisum_job_oldest_pending_seconds", "queue" => queue.clone())
            .set(q.oldest_pending_seconds.unwrap_or(0.0));
        for (quantile, v) in [("0.5", q.p50_run_ms), ("0.95", q.p95_run_ms)] {
            metrics::gauge!("kisum_job_run_seconds", "queue" => queue.clone(), "quantile" => quantile)
                .set(v.unwrap_or(0.0) / 1000.0);
        }
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("kisum_job_failures_last_hour", "queue" => queue)
            .set(q.failures_last_hour as f64);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response())
}

//! Operations routes (internal key or dashboard session): queue canaries
//! that prove the job queue works end to end, and the job dashboard's JSON
//! API (SPEC 5.9).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::ops::canary::{self, Canary, CanaryIn};
use shared::ops::fleet::{self, BulkRetry, QueueThroughput, WorkerProcess};
use shared::ops::{self, Action, JobDetail, JobFilter, JobSummary, QueueStats, ScheduleStatus};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::internal::InternalCaller;
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Path, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_canary))
        .routes(routes!(get_canary))
        .routes(routes!(list_queues))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(retry_job))
        .routes(routes!(cancel_job))
        .routes(routes!(purge_job))
        .routes(routes!(list_schedules))
        .routes(routes!(list_workers))
        .routes(routes!(get_throughput))
        .routes(routes!(retry_dead))
}

/// Enqueues a canary job; the worker counts its runs on the canary.
#[utoipa::path(post, path = "/internal/ops/canaries", tag = "ops",
    security(("internal_key" = [])), request_body = CanaryIn,
    responses((status = 201, body = Canary), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn create_canary(
    State(state): State<AppState>,
    caller: InternalCaller,
    Json(input): Json<CanaryIn>,
) -> Result<(StatusCode, Json<Canary>), AppError> {
    let mut tx = state.pool.begin().await?;
    let canary = canary::request(&mut tx, caller.actor, &input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(canary)))
}

#[utoipa::path(get, path = "/internal/ops/canaries/{id}", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = Canary), (status = 404, body = Problem), (status = 401, body = Problem)))]
async fn get_canary(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<Canary>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(canary::get(&mut conn, id).await?))
}

/// Counts per queue: pending, scheduled, running, done in the last hour,
/// failed, dead and killed; oldest pending age; run times; failures.
#[utoipa::path(get, path = "/internal/ops/queues", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = Vec<QueueStats>), (status = 401, body = Problem)))]
async fn list_queues(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> Result<Json<Vec<QueueStats>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(ops::queue_stats(&mut conn).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct JobsParams {
    /// A queue (job type).
    queue: Option<String>,
    /// `pending`, `scheduled`, `running`, `done`, `failed`, `dead` or `killed`.
    state: Option<String>,
    /// Text in an error of the job.
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Jobs, newest first, with filters and cursor paging.
#[utoipa::path(get, path = "/internal/ops/jobs", tag = "ops",
    security(("internal_key" = [])), params(JobsParams),
    responses((status = 200, body = Page<JobSummary>), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn list_jobs(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Query(params): Query<JobsParams>,
) -> Result<Json<Page<JobSummary>>, AppError> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request::<String>()?;
    let filter = JobFilter {
        queue: params.queue.filter(|q| !q.is_empty()),
        state: params.state.filter(|s| !s.is_empty()),
        q: params.q,
    };
    let mut conn = state.pool.acquire().await?;
    Ok(Json(ops::list_jobs(&mut conn, &filter, &page).await?))
}

fn job_id(id: &str) -> Result<&str, AppError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::from(shared::DomainError::NotFound));
    }
    Ok(id)
}

/// A job: payload, attempts, every error, timestamps, operator actions.
#[utoipa::path(get, path = "/internal/ops/jobs/{id}", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = JobDetail), (status = 404, body = Problem), (status = 401, body = Problem)))]
async fn get_job(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(ops::job(&mut conn, job_id(&id)?).await?))
}

/// Runs a failed, dead or killed job again now, with its attempts reset.
/// Audited.
#[utoipa::path(post, path = "/internal/ops/jobs/{id}/retry", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = JobDetail), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn retry_job(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, AppError> {
    act(&state, caller, &id, Action::Retry).await
}

/// Cancels a pending, scheduled or failed job (it becomes `killed`; a
/// running job cannot be cancelled). Audited.
#[utoipa::path(post, path = "/internal/ops/jobs/{id}/cancel", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = JobDetail), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_job(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, AppError> {
    act(&state, caller, &id, Action::Cancel).await
}

/// Deletes a failed, dead or killed job for good, with its errors (done
/// jobs go by retention). Audited.
#[utoipa::path(post, path = "/internal/ops/jobs/{id}/purge", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 204, description = "Purged"), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn purge_job(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let mut tx = state.pool.begin().await?;
    ops::purge(&mut tx, job_id(&id)?, caller.actor).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn act(
    state: &AppState,
    caller: InternalCaller,
    id: &str,
    action: Action,
) -> Result<Json<JobDetail>, AppError> {
    let mut tx = state.pool.begin().await?;
    let detail = ops::act(&mut tx, job_id(id)?, action, caller.actor).await?;
    tx.commit().await?;
    Ok(Json(detail))
}

/// The cron schedules with their next run and their last run's outcome.
#[utoipa::path(get, path = "/internal/ops/schedules", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = Vec<ScheduleStatus>), (status = 401, body = Problem)))]
async fn list_schedules(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> Result<Json<Vec<ScheduleStatus>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(ops::schedules(&mut conn).await?))
}

/// The worker processes (pods) seen in the last hour: host, queues, last
/// heartbeat, `live` or `gone` (no heartbeat for 30 s), and their running
/// jobs. Rows of processes gone for an hour are pruned by maintenance.
#[utoipa::path(get, path = "/internal/ops/workers", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = Vec<WorkerProcess>), (status = 401, body = Problem)))]
async fn list_workers(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> Result<Json<Vec<WorkerProcess>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(fleet::worker_processes(&mut conn).await?))
}

/// Jobs done and attempts failed per minute over the last hour, per queue.
#[utoipa::path(get, path = "/internal/ops/throughput", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = Vec<QueueThroughput>), (status = 401, body = Problem)))]
async fn get_throughput(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> Result<Json<Vec<QueueThroughput>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(fleet::throughput(&mut conn).await?))
}

/// Runs every dead job of a queue again now (up to 10,000 per call), with
/// attempts reset; each is audited as a retry.
#[utoipa::path(post, path = "/internal/ops/queues/{queue}/retry-dead", tag = "ops",
    security(("internal_key" = [])),
    params(("queue" = String, Path, description = "A queue (job type)")),
    responses((status = 200, body = BulkRetry), (status = 404, body = Problem)))]
async fn retry_dead(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(queue): Path<String>,
) -> Result<Json<BulkRetry>, AppError> {
    let mut tx = state.pool.begin().await?;
    let outcome = fleet::retry_dead(&mut tx, &queue, caller.actor).await?;
    tx.commit().await?;
    Ok(Json(outcome))
}

//! The Kisum Artist worker: one apalis worker per queue, fed by
//! LISTEN/NOTIFY with an interval poll as backstop (delayed jobs, missed
//! notifications), exponential-backoff retries, heartbeats so a dead
//! process's jobs are re-run elsewhere, and graceful shutdown.

pub mod jobs;
mod queue;
mod wakeup;

use std::str::FromStr;
use std::time::Duration;

use apalis::layers::retry::BackoffRetryPolicy;
use apalis::layers::retry::HasherRng;
use apalis::layers::retry::backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use apalis_postgres::Config;
use shared::config::WorkerConfig;
use shared::jobs::{ContractReminder, ExpirySweep, Job, Maintenance, ReadModelRebuild, TrustSweep};
use sqlx::PgPool;

/// What every job handler can reach, via `Data<WorkerState>`.
#[derive(Clone)]
pub struct WorkerState {
    pub pool: PgPool,
    /// This process's identity, e.g. `host:pid`.
    pub instance: String,
    /// Distinguishes this run from earlier ones of the same instance name.
    pub boot: String,
    /// How long done jobs are kept.
    pub job_retention: Duration,
    pub contract_reminders: shared::domain::contracts::reminders::ReminderPolicy,
    pub notifications: shared::config::NotificationsConfig,
    /// Signs outbound notifications.
    pub notifier: shared::webhooks::Signer,
    pub finance: shared::config::FinanceConfig,
    /// Signs Finance handoffs.
    pub finance_signer: shared::webhooks::Signer,
    pub http: reqwest::Client,
    wakeups: wakeup::Wakeups,
}

/// The identity of this process among worker replicas: host and pid, as
/// operators read it. It may repeat: a container restarted in place keeps
/// its hostname and runs the binary as pid 1 again. The queue's worker ids
/// therefore also carry [`boot_id`].
pub fn instance_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Eight hex digits drawn at start: no two boots of a process share them,
/// so a restarted process never takes over a dead one's worker rows, and
/// the jobs the dead one was running are recognised as orphans and re-run.
fn boot_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// The queue storage of job type `J`, configured for this worker.
fn storage<J: Job>(config: &WorkerConfig, state: &WorkerState) -> queue::QueueStorage<J> {
    let heartbeat = config.heartbeat;
    let missed = config
        .orphan_timeout
        .as_secs()
        .div_ceil(heartbeat.as_secs().max(1));
    queue::QueueStorage::new(
        &state.pool,
        Config::default()
            .queue(J::QUEUE)
            .batch_size(config.buffer_size)
            .heartbeat_interval(heartbeat)
            .missed_heartbeats(usize::try_from(missed).unwrap_or(usize::MAX).max(1)),
        config.concurrency,
        state.wakeups.count(J::QUEUE),
    )
}

/// Retries inside the worker with exponential backoff (0.5 s doubling to
/// 60 s, jittered) until the job's attempts are spent; the job is then left
/// `Failed` with its last error (dead).
fn retry_policy<J: Job>() -> anyhow::Result<BackoffRetryPolicy<ExponentialBackoff>> {
    let backoff = ExponentialBackoffMaker::new(
        Duration::from_millis(500),
        Duration::from_secs(60),
        0.5,
        HasherRng::default(),
    )?
    .make_backoff();
    Ok(RetryPolicy::retries(J::MAX_ATTEMPTS.saturating_sub(1) as usize).with_backoff(backoff))
}

/// Appends a failed attempt to `job_errors` (apalis keeps only the last
/// result). Best effort: a failure to record is logged, never raised, so
/// it cannot change the job's outcome.
async fn record_failure(
    state: &WorkerState,
    queue: &str,
    id: &TaskId,
    attempt: &Attempt,
    worker: &WorkerContext,
    error: &BoxDynError,
) {
    let attempt = i32::try_from(attempt.current()).unwrap_or(i32::MAX);
    let recorded = async {
        let mut conn = state.pool.acquire().await?;
        shared::ops::record_failure(
            &mut conn,
            &id.to_string(),
            queue,
            attempt,
            &error.to_string(),
            worker.name(),
        )
        .await?;
        Ok::<_, BoxDynError>(())
    }
    .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, queue, job = %id, "could not record a job failure");
    }
}

/// Registers one worker for job type `J` with `handler`; every failed
/// attempt is recorded.
macro_rules! register_queue {
    ($monitor:expr, $job:ty, $handler:path, $config:expr, $state:expr) => {{
        let config = $config.clone();
        let state: WorkerState = $state.clone();
        let policy = retry_policy::<$job>()?;
        $monitor.register(move |restarts| {
            let backend = storage::<$job>(&config, &state).poll_with_strategy(
                Strategy::new()
                    .stream(state.wakeups.stream(<$job as Job>::QUEUE))
                    .interval(config.poll_interval),
            );
            WorkerBuilder::new(format!(
                "{}@{}#{restarts}.{}",
                <$job as Job>::QUEUE,
                state.instance,
                state.boot
            ))
            .backend(backend)
            .data(state.clone())
            .concurrency(config.concurrency)
            .retry(policy.clone())
            .enable_tracing()
            .catch_panic()
            .build(
                |job: $job,
                 state: Data<WorkerState>,
                 id: TaskId,
                 attempt: Attempt,
                 worker: WorkerContext| async move {
                    let result = $handler(job, state.clone()).await;
                    if let Err(error) = &result {
                        record_failure(&state, <$job as Job>::QUEUE, &id, &attempt, &worker, error)
                            .await;
                    }
                    result
                },
            )
        })
    }};
}

/// Registers a cron schedule whose ticks fire on every replica; `handler`
/// must enqueue with the tick as idempotency key so one run happens per tick.
fn register_cron<F, Fut>(
    monitor: Monitor,
    state: &WorkerState,
    expression: &str,
    name: &str,
    handler: F,
) -> anyhow::Result<Monitor>
where
    F: Fn(Tick, Data<WorkerState>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let schedule = cron::Schedule::from_str(expression)?;
    let state = state.clone();
    let name = format!("cron-{name}@{}", state.instance);
    Ok(monitor.register(move |restarts| {
        WorkerBuilder::new(format!("{name}#{restarts}"))
            .backend(CronScheduler::new(schedule.clone()))
            .data(state.clone())
            .build(handler.clone())
    }))
}

/// Runs every queue's worker until `shutdown` resolves, then lets running
/// jobs finish within the grace period.
pub async fn run_until(
    config: WorkerConfig,
    pool: PgPool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = WorkerState {
        wakeups: wakeup::Wakeups::spawn(pool.clone(), shared::jobs::QUEUES),
        pool,
        instance: instance_name(),
        boot: boot_id(),
        job_retention: config.job_retention,
        contract_reminders: config.contract_reminders,
        notifier: shared::webhooks::Signer::new(&config.notifications.secrets)?,
        notifications: config.notifications.clone(),
        finance_signer: shared::webhooks::Signer::new(&config.finance.secrets)?,
        finance: config.finance.clone(),
        // A redirect would turn a delivery's POST into a GET: not followed.
        http: reqwest::Client::builder()
            .user_agent(concat!("kisum-worker/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    };
    tracing::info!(instance = %state.instance, queues = ?shared::jobs::QUEUES, "kisum-worker starting");
    let monitor = Monitor::new().should_restart(|worker, error| {
        tracing::error!(worker = %worker.name(), error = %error, "worker stopped; restarting");
        true
    });
    let monitor = register_queue!(
        monitor,
        shared::jobs::QueueCanary,
        jobs::queue_canary::run,
        config,
        state
    );
    let monitor = register_queue!(monitor, shared::jobs::Noop, jobs::noop, config, state);
    let monitor = register_queue!(
        monitor,
        shared::jobs::Maintenance,
        jobs::maintenance::run,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::HoldExpiry,
        jobs::expiry::hold,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::OfferExpiry,
        jobs::expiry::offer,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::RequestExpiry,
        jobs::expiry::request,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::ExpirySweep,
        jobs::expiry::sweep,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::ContractReminder,
        jobs::contracts::run,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::FinanceHandoff,
        jobs::finance::deliver,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::ContractReminderDelivery,
        jobs::contracts::deliver,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::TrustScore,
        jobs::trust::run,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::TrustSweep,
        jobs::trust::sweep,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::ReadModelRefresh,
        jobs::read_models::refresh,
        config,
        state
    );
    let monitor = register_queue!(
        monitor,
        shared::jobs::ReadModelRebuild,
        jobs::read_models::rebuild,
        config,
        state
    );
    let monitor = register_cron(
        monitor,
        &state,
        ReadModelRebuild::SCHEDULE,
        "read_model_rebuild",
        jobs::read_models::tick,
    )?;
    let monitor = register_cron(
        monitor,
        &state,
        TrustSweep::SCHEDULE,
        "trust_sweep",
        jobs::trust::tick,
    )?;
    let monitor = register_cron(
        monitor,
        &state,
        ContractReminder::SCHEDULE,
        "contract_reminder",
        jobs::contracts::tick,
    )?;
    let monitor = register_cron(
        monitor,
        &state,
        ExpirySweep::SCHEDULE,
        "expiry_sweep",
        jobs::expiry::tick,
    )?;
    let monitor = register_cron(
        monitor,
        &state,
        Maintenance::SCHEDULE,
        "maintenance",
        jobs::maintenance::tick,
    )?;
    monitor
        .shutdown_timeout(config.shutdown_grace)
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await?;
    tracing::info!("kisum-worker stopped");
    Ok(())
}

pub async fn run(config: WorkerConfig) -> anyhow::Result<()> {
    let pool = shared::db::pool(&config.database)?;
    if config.run_migrations_on_start {
        shared::db::migrate(&pool).await?;
    }
    run_until(config, pool.clone(), shared::shutdown::signal()).await?;
    pool.close().await;
    Ok(())
}

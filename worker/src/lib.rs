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
use jobs::Handler;
use shared::config::WorkerConfig;
use shared::jobs::{Job, Scheduled};
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
    /// `HISTORY_DETACH_AFTER_MONTHS`: unset, history is never detached.
    pub history_detach_after_months: Option<u32>,
    pub retention: shared::privacy::retention::RetentionPolicy,
    /// How long change-feed events are kept.
    pub event_retention: Duration,
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

/// The queue storage of job type `J`, configured for this worker, for a
/// worker running `concurrency` of its jobs at once.
fn storage<J: Job>(
    config: &WorkerConfig,
    state: &WorkerState,
    concurrency: usize,
) -> queue::QueueStorage<J> {
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
            .lock_tasks(false)
            .heartbeat_interval(heartbeat)
            .missed_heartbeats(usize::try_from(missed).unwrap_or(usize::MAX).max(1)),
        concurrency,
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

/// Registers the worker of job type `J`; every failed attempt is recorded.
fn register_queue<J: Handler>(
    monitor: Monitor,
    config: &WorkerConfig,
    state: &WorkerState,
) -> anyhow::Result<Monitor> {
    register_queue_with::<J, _, _>(
        monitor,
        config,
        state,
        J::concurrency(config),
        |job: J, state: Data<WorkerState>, _attempt: usize| job.run(state),
    )
}

/// Registers the worker of job type `J`, running `concurrency` jobs at
/// once, each through `handler` (given the job, the state and its attempt,
/// from 1); every failed attempt is recorded.
fn register_queue_with<J, H, F>(
    monitor: Monitor,
    config: &WorkerConfig,
    state: &WorkerState,
    concurrency: usize,
    handler: H,
) -> anyhow::Result<Monitor>
where
    J: Job,
    H: Fn(J, Data<WorkerState>, usize) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let config = config.clone();
    let state = state.clone();
    let policy = retry_policy::<J>()?;
    Ok(monitor.register(move |restarts| {
        let backend = storage::<J>(&config, &state, concurrency).poll_with_strategy(
            Strategy::new()
                .stream(state.wakeups.stream(J::QUEUE))
                .interval(config.poll_interval),
        );
        let handler = handler.clone();
        WorkerBuilder::new(format!(
            "{}@{}#{restarts}.{}",
            J::QUEUE,
            state.instance,
            state.boot
        ))
        .backend(backend)
        .data(state.clone())
        .concurrency(concurrency)
        .retry(policy.clone())
        .enable_tracing()
        .catch_panic()
        .build(
            move |job: J,
                  state: Data<WorkerState>,
                  id: TaskId,
                  attempt: Attempt,
                  worker: WorkerContext| {
                let handler = handler.clone();
                async move {
                    let result = handler(job, state.clone(), attempt.current()).await;
                    if let Err(error) = &result {
                        record_failure(&state, J::QUEUE, &id, &attempt, &worker, error).await;
                    }
                    result
                }
            },
        )
    }))
}

/// Registers the cron schedule of job type `J`. Its ticks fire on every
/// replica, and each enqueues the tick's run through
/// [`shared::jobs::enqueue_tick`], whose idempotency key keeps one.
fn register_cron<J: Scheduled>(monitor: Monitor, state: &WorkerState) -> anyhow::Result<Monitor> {
    let schedule = cron::Schedule::from_str(J::SCHEDULE)?;
    let state = state.clone();
    let name = format!("cron-{}@{}", J::QUEUE, state.instance);
    Ok(monitor.register(move |restarts| {
        WorkerBuilder::new(format!("{name}#{restarts}"))
            .backend(CronScheduler::new(schedule.clone()))
            .data(state.clone())
            .build(|tick: Tick, state: Data<WorkerState>| async move {
                let at = i64::try_from(tick.get_timestamp())?;
                let mut conn = state.pool.acquire().await?;
                let enqueued = shared::jobs::enqueue_tick::<J>(&mut conn, at).await?;
                tracing::debug!(queue = J::QUEUE, tick = at, enqueued, "cron tick");
                Ok::<_, BoxDynError>(())
            })
    }))
}

/// What [`register_all`] registered: one worker per queue, one cron
/// schedule per scheduled type.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Registered {
    pub queues: Vec<&'static str>,
    pub schedules: Vec<&'static str>,
}

/// Registers every job type of the registry (`shared::for_each_job!`):
/// a worker per type and a cron schedule per scheduled type.
fn register_all(
    mut monitor: Monitor,
    config: &WorkerConfig,
    state: &WorkerState,
) -> anyhow::Result<(Monitor, Registered)> {
    let mut registered = Registered::default();
    macro_rules! register {
        (jobs: $($job:ident),* ; scheduled: $($cron:ident),* ;) => {
            $(
                monitor = register_queue::<shared::jobs::$job>(monitor, config, state)?;
                registered.queues.push(<shared::jobs::$job as Job>::QUEUE);
            )*
            $(
                monitor = register_cron::<shared::jobs::$cron>(monitor, state)?;
                registered.schedules.push(<shared::jobs::$cron as Job>::QUEUE);
            )*
        };
    }
    shared::for_each_job!(register);
    Ok((monitor, registered))
}

/// A monitor that restarts any worker that stops.
fn monitor() -> Monitor {
    Monitor::new().should_restart(|worker, error| {
        tracing::error!(worker = %worker.name(), error = %error, "worker stopped; restarting");
        true
    })
}

/// Runs every queue's worker until `shutdown` resolves, then lets running
/// jobs finish within the grace period.
pub async fn run_until(
    config: WorkerConfig,
    pool: PgPool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = WorkerState::new(&config, pool)?;
    tracing::info!(instance = %state.instance, queues = ?shared::jobs::QUEUES, "kisum-worker starting");
    let monitor = monitor();
    let (monitor, _) = register_all(monitor, &config, &state)?;
    run_monitor(monitor, config.shutdown_grace, shutdown).await
}

/// Runs the worker of job type `J`'s queue alone, each job through
/// `handler` (given the job and its attempt, from 1) in place of `J`'s own
/// handler, until `shutdown` resolves; running jobs then finish within the
/// grace period. Everything else is as [`run_until`] runs that queue: its
/// storage (fetch, batched acknowledgement, heartbeats, orphan re-run,
/// re-enqueue on shutdown), LISTEN wake-ups, retry policy, failure records,
/// `WORKER_CONCURRENCY` jobs at once, restart of a stopped worker. No cron
/// schedule and no other queue runs. For benchmarks that give the no-op
/// queue's jobs work to do or failures to retry.
pub async fn run_queue_until<J, H, F>(
    config: WorkerConfig,
    pool: PgPool,
    handler: H,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    J: Job,
    H: Fn(J, usize) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let state = WorkerState::new(&config, pool)?;
    tracing::info!(instance = %state.instance, queue = J::QUEUE, "kisum-worker starting one queue");
    let monitor = monitor();
    let monitor = register_queue_with::<J, _, _>(
        monitor,
        &config,
        &state,
        config.concurrency,
        move |job: J, _state: Data<WorkerState>, attempt: usize| handler(job, attempt),
    )?;
    run_monitor(monitor, config.shutdown_grace, shutdown).await
}

/// Runs `monitor`'s workers until `shutdown` resolves, then lets running
/// jobs finish within `grace`.
async fn run_monitor(
    monitor: Monitor,
    grace: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    monitor
        .shutdown_timeout(grace)
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await?;
    tracing::info!("kisum-worker stopped");
    Ok(())
}

impl WorkerState {
    fn new(config: &WorkerConfig, pool: PgPool) -> anyhow::Result<Self> {
        Ok(Self {
            wakeups: wakeup::Wakeups::spawn(pool.clone(), shared::jobs::QUEUES),
            pool,
            instance: instance_name(),
            boot: boot_id(),
            job_retention: config.job_retention,
            history_detach_after_months: config.history_detach_after_months,
            retention: config.retention,
            event_retention: config.event_retention,
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
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every job type that can be enqueued has a worker, every queue is
    /// served once, and every cron schedule parses: the registrations, the
    /// queue list (wake-ups, `/ops`) and the schedules agree.
    #[tokio::test]
    async fn every_enqueueable_job_type_is_registered_once() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = WorkerConfig::from_env(&shared::config::Env::from_map([(
            "DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )]))
        .unwrap();
        let pool = shared::db::pool(&config.database).unwrap();
        let state = WorkerState::new(&config, pool).unwrap();
        let (_, registered) = register_all(Monitor::new(), &config, &state).unwrap();
        assert_eq!(registered.queues, shared::jobs::QUEUES);
        let mut unique = registered.queues.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            registered.queues.len(),
            "a queue served twice"
        );
        let scheduled: Vec<&str> = shared::jobs::SCHEDULES.iter().map(|(q, _)| *q).collect();
        assert_eq!(registered.schedules, scheduled);
        for (queue, expression) in shared::jobs::SCHEDULES {
            assert!(
                shared::jobs::QUEUES.contains(queue),
                "{queue} is scheduled but not served"
            );
            assert!(
                cron::Schedule::from_str(expression).is_ok(),
                "{queue}: {expression}"
            );
        }
    }
}

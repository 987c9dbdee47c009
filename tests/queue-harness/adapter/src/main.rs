//! The worker's queue as an adapter of the public Postgres job-queue
//! benchmark (github.com/hardbyte/postgresql-job-queue-benchmarking, its
//! `CONTRIBUTING_ADAPTERS.md`): one long-running process that produces
//! jobs, runs them, and prints JSONL telemetry on stdout (logs on stderr).
//!
//! The queue is the production one: jobs are enqueued through
//! `shared::jobs::enqueue_many` into the `noop` queue, and run by
//! `worker::run_queue_until`, i.e. the worker's own storage (fetch, batched
//! acknowledgement, heartbeats, orphan re-run, re-enqueue on shutdown),
//! LISTEN wake-ups, retry policy and failure records, configured from the
//! `WORKER_*` / `DATABASE_*` variables as the worker binary is. Only the
//! job's handler is the benchmark's: it records the pickup latency, sleeps
//! `JOB_WORK_MS` and, when asked, fails.
//!
//! A `Noop` payload has one number, `n`: the adapter packs the enqueue time
//! (Unix milliseconds, upper bits) and a sequence number (lower 20 bits)
//! into it.
//!
//! Env (the harness's): `DATABASE_URL`, `PRODUCER_MODE` (`fixed` |
//! `depth-target`), `PRODUCER_RATE`, `PRODUCER_RATE_CONTROL_FILE`,
//! `PRODUCER_PACING` (`harness`: `ENQUEUE <n>` lines on stdin),
//! `PRODUCER_BATCH_MAX` (128), `PRODUCER_BATCH_MS` (25), `TARGET_DEPTH`,
//! `WORKER_COUNT` (the worker's `WORKER_CONCURRENCY` unless that is set),
//! `JOB_WORK_MS` (1), `SAMPLE_EVERY_S` (5), `BENCH_INSTANCE_ID` (0),
//! `WORKER_FAIL_MODE` (`success` | `terminal-always` | `retryable-first`),
//! `JOB_FAIL_FIRST_MOD` (0), `LATENCY_WINDOW_MS` (30000). Not honoured:
//! `JOB_PAYLOAD_BYTES` (the payload is `{"n":…}`), `JOB_MAX_ATTEMPTS` (the
//! `noop` queue's jobs have one attempt), priorities, `BENCH_QUEUE_COUNT`.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::json;
use shared::config::{Env, WorkerConfig};
use shared::jobs::{Job, Noop};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{mpsc, watch};

const SYSTEM: &str = "kisum";
/// Tables and indexes the harness watches (pgstattuple / pgstatindex);
/// `adapter.json` lists the same.
const EVENT_TABLES: &[&str] = &["apalis.jobs", "apalis.workers", "public.job_errors"];
const EVENT_INDEXES: &[&str] = &[
    "apalis.kisum_jobs_fetch_idx",
    "apalis.kisum_jobs_open_idx",
    "apalis.kisum_jobs_done_idx",
];
const SEQ_BITS: u32 = 20;

/// The error of a job, as apalis takes it.
type BoxDynError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn env_str(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn pack(sent_ms: u64, seq: u64) -> u64 {
    (sent_ms << SEQ_BITS) | (seq & ((1 << SEQ_BITS) - 1))
}

fn unpack(n: u64) -> (u64, u64) {
    (n >> SEQ_BITS, n & ((1 << SEQ_BITS) - 1))
}

/// One line of telemetry: stdout is line-buffered by the harness's tailer.
fn emit(record: &serde_json::Value) {
    println!("{record}");
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailMode {
    Success,
    /// The first attempt of every `JOB_FAIL_FIRST_MOD`-th job fails.
    RetryableFirst,
    /// Every attempt fails.
    TerminalAlways,
}

impl FailMode {
    fn from_env() -> Self {
        match env_str("WORKER_FAIL_MODE", "success")
            .to_ascii_lowercase()
            .as_str()
        {
            "retryable-first" | "retryable_first" => Self::RetryableFirst,
            "terminal-always" | "terminal_always" => Self::TerminalAlways,
            _ => Self::Success,
        }
    }
}

/// Latencies of the trailing window, folded into an HDR histogram (3
/// significant figures) when sampled.
struct LatencyWindow {
    events: VecDeque<(Instant, u64)>,
    hist: Option<Histogram<u64>>,
}

impl LatencyWindow {
    fn new() -> Self {
        Self {
            events: VecDeque::with_capacity(4096),
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).ok(),
        }
    }

    fn record(&mut self, ms: f64) {
        let micros = (ms * 1000.0).round().max(1.0) as u64;
        self.events.push_back((Instant::now(), micros));
    }

    /// p50, p95, p99 in ms over the trailing `window`.
    fn snapshot(&mut self, window: Duration) -> Option<(f64, f64, f64)> {
        let cutoff = Instant::now().checked_sub(window)?;
        while self.events.front().is_some_and(|(t, _)| *t < cutoff) {
            self.events.pop_front();
        }
        let hist = self.hist.as_mut()?;
        if self.events.is_empty() {
            return None;
        }
        hist.reset();
        for (_, v) in &self.events {
            hist.saturating_record(*v);
        }
        let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
        Some((q(0.50), q(0.95), q(0.99)))
    }
}

/// Counters and latency windows shared by the producer, the handler and
/// the sampler.
struct Stats {
    enqueued: AtomicU64,
    completed: AtomicU64,
    failures: AtomicU64,
    claim: Mutex<LatencyWindow>,
    end_to_end: Mutex<LatencyWindow>,
    producer_call: Mutex<LatencyWindow>,
    depth: AtomicU64,
    running: AtomicU64,
    retryable: AtomicU64,
    scheduled: AtomicU64,
    dead: AtomicU64,
    target_rate: AtomicU64,
}

impl Stats {
    fn new() -> Self {
        Self {
            enqueued: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            claim: Mutex::new(LatencyWindow::new()),
            end_to_end: Mutex::new(LatencyWindow::new()),
            producer_call: Mutex::new(LatencyWindow::new()),
            depth: AtomicU64::new(0),
            running: AtomicU64::new(0),
            retryable: AtomicU64::new(0),
            scheduled: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            target_rate: AtomicU64::new(0),
        }
    }

    fn record(window: &Mutex<LatencyWindow>, ms: f64) {
        if let Ok(mut w) = window.lock() {
            w.record(ms);
        }
    }

    fn snapshot(window: &Mutex<LatencyWindow>, span: Duration) -> Option<(f64, f64, f64)> {
        window.lock().ok().and_then(|mut w| w.snapshot(span))
    }
}

struct Settings {
    database_url: String,
    producer_mode: String,
    producer_rate: u64,
    harness_paced: bool,
    batch_max: usize,
    batch_ms: u64,
    target_depth: u64,
    worker_count: u64,
    work_ms: u64,
    sample_every_s: u64,
    instance: u64,
    fail_mode: FailMode,
    fail_first_mod: u64,
    latency_window: Duration,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let producer_mode = env_str("PRODUCER_MODE", "fixed");
        Ok(Self {
            database_url: std::env::var("DATABASE_URL").context("DATABASE_URL must be set")?,
            harness_paced: env_str("PRODUCER_PACING", "adapter") == "harness"
                && producer_mode == "fixed",
            producer_mode,
            producer_rate: env_u64("PRODUCER_RATE", 800),
            batch_max: usize::try_from(env_u64("PRODUCER_BATCH_MAX", 128).max(1)).unwrap_or(128),
            batch_ms: env_u64("PRODUCER_BATCH_MS", 25).max(1),
            target_depth: env_u64("TARGET_DEPTH", 1000),
            worker_count: env_u64("WORKER_COUNT", 32).max(1),
            work_ms: env_u64("JOB_WORK_MS", 1),
            sample_every_s: env_u64("SAMPLE_EVERY_S", 5).max(1),
            instance: env_u64("BENCH_INSTANCE_ID", 0),
            fail_mode: FailMode::from_env(),
            fail_first_mod: env_u64("JOB_FAIL_FIRST_MOD", 0),
            latency_window: Duration::from_millis(env_u64("LATENCY_WINDOW_MS", 30_000).max(1)),
        })
    }

    fn db_name(&self) -> String {
        self.database_url
            .rsplit('/')
            .next()
            .and_then(|s| s.split('?').next())
            .unwrap_or("kisum_bench")
            .to_owned()
    }
}

/// The worker's settings as the worker binary reads them, with the
/// harness's `WORKER_COUNT` as `WORKER_CONCURRENCY` unless that is set.
fn worker_config(settings: &Settings) -> anyhow::Result<WorkerConfig> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k != "DATABASE_URL")
        .collect();
    vars.push(("DATABASE_URL".into(), settings.database_url.clone()));
    if !vars.iter().any(|(k, _)| k == "WORKER_CONCURRENCY") {
        vars.push((
            "WORKER_CONCURRENCY".into(),
            settings.worker_count.to_string(),
        ));
    }
    Ok(WorkerConfig::from_env(&Env::from_map(vars))?)
}

/// The schema, as the worker sets it up (`RUN_MIGRATIONS_ON_START`):
/// replica 0 migrates, the others wait until it has.
async fn prepare_schema(pool: &PgPool, instance: u64) -> anyhow::Result<()> {
    if instance == 0 {
        return shared::db::migrate(pool).await;
    }
    let started = Instant::now();
    loop {
        if shared::db::schema_ready(pool).await.unwrap_or(false) {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(50),
            "schema not migrated by replica 0 within 50 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn emit_descriptor(settings: &Settings, config: &WorkerConfig) {
    emit(&json!({
        "kind": "descriptor",
        "system": SYSTEM,
        "instance_id": settings.instance,
        "event_tables": EVENT_TABLES,
        "event_indexes": EVENT_INDEXES,
        "extensions": [],
        "version": env!("CARGO_PKG_VERSION"),
        "schema_version": "migrations embedded in kisum-shared",
        "db_name": settings.db_name(),
        "started_at": now_iso(),
        "worker": {
            "queue": Noop::QUEUE,
            "concurrency": config.concurrency,
            "buffer_size": config.buffer_size,
            "poll_interval_ms": u64::try_from(config.poll_interval.as_millis()).unwrap_or(u64::MAX),
            "heartbeat_s": config.heartbeat.as_secs(),
            "orphan_timeout_s": config.orphan_timeout.as_secs(),
            "max_connections": config.database.max_connections,
            "max_attempts": Noop::MAX_ATTEMPTS,
            "job_work_ms": settings.work_ms,
        },
    }));
}

/// The job: pickup latency, `JOB_WORK_MS` of sleep, failures when asked.
async fn handle(
    job: Noop,
    attempt: usize,
    stats: Arc<Stats>,
    work_ms: u64,
    fail_mode: FailMode,
    fail_first_mod: u64,
) -> Result<(), BoxDynError> {
    let (sent_ms, seq) = unpack(job.n);
    match fail_mode {
        FailMode::TerminalAlways => {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            return Err("synthetic failure (WORKER_FAIL_MODE=terminal-always)".into());
        }
        FailMode::RetryableFirst | FailMode::Success
            if fail_first_mod > 0 && seq % fail_first_mod == 0 && attempt <= 1 =>
        {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            return Err("synthetic first-attempt failure (JOB_FAIL_FIRST_MOD)".into());
        }
        _ => {}
    }
    Stats::record(&stats.claim, now_ms().saturating_sub(sent_ms) as f64);
    if work_ms > 0 {
        tokio::time::sleep(Duration::from_millis(work_ms)).await;
    }
    Stats::record(&stats.end_to_end, now_ms().saturating_sub(sent_ms) as f64);
    stats.completed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn read_rate(default: u64) -> u64 {
    std::env::var("PRODUCER_RATE_CONTROL_FILE")
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|raw| raw.trim().parse::<f64>().ok())
        .map_or(default, |rate| rate.max(0.0) as u64)
}

/// `ENQUEUE <n>` lines of the harness's pacer, from stdin.
fn pacer_tokens() -> mpsc::Receiver<usize> {
    let (tx, rx) = mpsc::channel(1024);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if let Some(n) = line
                .trim()
                .strip_prefix("ENQUEUE ")
                .and_then(|n| n.parse::<usize>().ok())
                && n > 0
                && tx.blocking_send(n).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Enqueues jobs at the offered rate (fixed, harness- or adapter-paced) or
/// up to the target depth, `PRODUCER_BATCH_MAX` per statement.
async fn produce(settings: Arc<Settings>, pool: PgPool, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    let mut tokens = settings.harness_paced.then(pacer_tokens);
    let mut seq: u64 = 0;
    let mut credit = 0.0_f64;
    let period = Duration::from_millis(settings.batch_ms);
    let mut next_tick = tokio::time::Instant::now();
    let mut last_credit = tokio::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let size = if settings.producer_mode == "depth-target" {
            stats.target_rate.store(0, Ordering::Relaxed);
            let depth = stats.depth.load(Ordering::Relaxed);
            if depth >= settings.target_depth {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            usize::try_from(settings.target_depth - depth)
                .unwrap_or(usize::MAX)
                .clamp(1, settings.batch_max)
        } else if let Some(rx) = tokens.as_mut() {
            stats
                .target_rate
                .store(read_rate(settings.producer_rate), Ordering::Relaxed);
            match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
                Ok(Some(n)) => n.min(settings.batch_max),
                Ok(None) => {
                    tokens = None;
                    continue;
                }
                Err(_) => continue,
            }
        } else {
            let rate = read_rate(settings.producer_rate);
            stats.target_rate.store(rate, Ordering::Relaxed);
            next_tick = std::cmp::max(next_tick + period, tokio::time::Instant::now());
            tokio::time::sleep_until(next_tick).await;
            // Credit on real elapsed time (the contract's pacing rule).
            let now = tokio::time::Instant::now();
            credit += rate as f64 * now.saturating_duration_since(last_credit).as_secs_f64();
            last_credit = now;
            let whole = credit.floor();
            if whole < 1.0 {
                continue;
            }
            credit -= whole;
            (whole as usize).min(settings.batch_max)
        };
        let sent = now_ms();
        let jobs: Vec<Noop> = (0..size as u64)
            .map(|i| Noop {
                n: pack(sent, seq + i),
            })
            .collect();
        let started = Instant::now();
        let result = async {
            let mut conn = pool.acquire().await?;
            shared::jobs::enqueue_many(&mut conn, &jobs, None).await
        }
        .await;
        match result {
            Ok(_) => {
                Stats::record(
                    &stats.producer_call,
                    started.elapsed().as_secs_f64() * 1000.0,
                );
                stats.enqueued.fetch_add(size as u64, Ordering::Relaxed);
                seq += size as u64;
            }
            Err(error) => {
                tracing::warn!(%error, "enqueue failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The `noop` queue's open jobs by state, as `/ops` names the states.
async fn poll_depth(pool: PgPool, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let rows: Result<Vec<(String, i64)>, sqlx::Error> = sqlx::query_as(
            "SELECT kisum_job_state(status, attempts, max_attempts, run_at), count(*)
               FROM apalis.jobs WHERE status <> 'Done' AND job_type = $1
              GROUP BY 1",
        )
        .bind(Noop::QUEUE)
        .fetch_all(&pool)
        .await;
        match rows {
            Ok(rows) => {
                let count = |state: &str| {
                    rows.iter()
                        .filter(|(s, _)| s == state)
                        .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
                        .sum::<u64>()
                };
                stats.depth.store(count("pending"), Ordering::Relaxed);
                stats.running.store(count("running"), Ordering::Relaxed);
                stats.retryable.store(count("failed"), Ordering::Relaxed);
                stats.scheduled.store(count("scheduled"), Ordering::Relaxed);
                stats.dead.store(count("dead"), Ordering::Relaxed);
            }
            Err(error) => tracing::warn!(%error, "depth poll failed"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sample(metric: &str, value: f64, window_s: f64, instance: u64, t: &str) {
    emit(&json!({
        "t": t,
        "system": SYSTEM,
        "instance_id": instance,
        "kind": "adapter",
        "subject_kind": "adapter",
        "subject": "",
        "metric": metric,
        "value": value,
        "window_s": window_s,
    }));
}

/// Every `SAMPLE_EVERY_S`, aligned to the wall clock: the contract's
/// metrics and a few more.
async fn emit_samples(settings: Arc<Settings>, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    let every = settings.sample_every_s;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let next = (now.as_secs() / every + 1) * every;
    let wait = Duration::from_secs(next).saturating_sub(now);
    tokio::time::sleep(wait).await;
    // The first tick one period on: `interval`'s own first tick is at once.
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(every),
        Duration::from_secs(every),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (
        stats.enqueued.load(Ordering::Relaxed),
        stats.completed.load(Ordering::Relaxed),
        stats.failures.load(Ordering::Relaxed),
    );
    let mut last_at = Instant::now();
    let window_s = settings.latency_window.as_secs_f64();
    let every_s = every as f64;
    let id = settings.instance;
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        let dt = last_at.elapsed().as_secs_f64().max(0.001);
        last_at = Instant::now();
        let now = (
            stats.enqueued.load(Ordering::Relaxed),
            stats.completed.load(Ordering::Relaxed),
            stats.failures.load(Ordering::Relaxed),
        );
        let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
        let t = now_iso();
        let latencies = [
            (
                "claim",
                Stats::snapshot(&stats.claim, settings.latency_window),
            ),
            (
                "end_to_end",
                Stats::snapshot(&stats.end_to_end, settings.latency_window),
            ),
            (
                "producer_call",
                Stats::snapshot(&stats.producer_call, settings.latency_window),
            ),
        ];
        for (name, values) in latencies {
            if let Some((p50, p95, p99)) = values {
                sample(&format!("{name}_p50_ms"), p50, window_s, id, &t);
                sample(&format!("{name}_p95_ms"), p95, window_s, id, &t);
                sample(&format!("{name}_p99_ms"), p99, window_s, id, &t);
            }
        }
        sample("enqueue_rate", rate(now.0, last.0), every_s, id, &t);
        sample("completion_rate", rate(now.1, last.1), every_s, id, &t);
        sample(
            "retryable_failure_rate",
            rate(now.2, last.2),
            every_s,
            id,
            &t,
        );
        last = now;
        if id == 0 {
            let depth = stats.depth.load(Ordering::Relaxed) as f64;
            let running = stats.running.load(Ordering::Relaxed) as f64;
            let retryable = stats.retryable.load(Ordering::Relaxed) as f64;
            let scheduled = stats.scheduled.load(Ordering::Relaxed) as f64;
            for (metric, value) in [
                ("queue_depth", depth),
                ("running_depth", running),
                ("retryable_depth", retryable),
                ("scheduled_depth", scheduled),
                ("dead_depth", stats.dead.load(Ordering::Relaxed) as f64),
                ("total_backlog", depth + running + retryable + scheduled),
                (
                    "producer_target_rate",
                    stats.target_rate.load(Ordering::Relaxed) as f64,
                ),
            ] {
                sample(metric, value, 0.0, id, &t);
            }
        }
    }
}

/// SIGTERM or SIGINT.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run() -> anyhow::Result<()> {
    let settings = Arc::new(Settings::from_env()?);
    let config = worker_config(&settings)?;
    let pool = shared::db::pool(&config.database)?;
    prepare_schema(&pool, settings.instance).await?;
    // The producer's and the depth poller's connections, beside the
    // worker's pool as the API's would be.
    let side = PgPoolOptions::new()
        .max_connections(3)
        .connect(&settings.database_url)
        .await
        .context("connecting the producer")?;
    emit_descriptor(&settings, &config);

    let stats = Arc::new(Stats::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
    let handler = {
        let stats = stats.clone();
        let (work_ms, fail_mode, fail_first_mod) = (
            settings.work_ms,
            settings.fail_mode,
            settings.fail_first_mod,
        );
        move |job: Noop, attempt: usize| {
            handle(
                job,
                attempt,
                stats.clone(),
                work_ms,
                fail_mode,
                fail_first_mod,
            )
        }
    };
    let mut worker = tokio::spawn(worker::run_queue_until::<Noop, _, _>(
        config,
        pool.clone(),
        handler,
        async move {
            let _ = shutdown_rx.wait_for(|stop| *stop).await;
        },
    ));
    let tasks = [
        tokio::spawn(produce(
            settings.clone(),
            side.clone(),
            stats.clone(),
            stop.clone(),
        )),
        tokio::spawn(poll_depth(side.clone(), stats.clone(), stop.clone())),
        tokio::spawn(emit_samples(settings.clone(), stats.clone(), stop.clone())),
    ];

    tokio::select! {
        () = terminated() => tracing::info!("shutdown signal received"),
        result = &mut worker => {
            // The worker ends only on shutdown: anything else is a fault.
            stop.store(true, Ordering::Relaxed);
            return match result {
                Ok(Ok(())) => Err(anyhow::anyhow!("the worker stopped")),
                Ok(Err(error)) => Err(error.context("the worker failed")),
                Err(error) => Err(anyhow::anyhow!("the worker panicked: {error}")),
            };
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = shutdown_tx.send(true);
    // The contract: exit within 5 s of SIGTERM. The worker re-enqueues its
    // unstarted jobs and writes its acknowledgements within that, or the
    // jobs are re-run as orphans by the next worker.
    // The producer may be inside an INSERT and the sampler waiting for
    // its tick: neither has anything left to do.
    for task in &tasks {
        task.abort();
    }
    match tokio::time::timeout(Duration::from_secs(4), worker).await {
        Ok(Ok(Err(error))) => {
            tracing::warn!(error = %format!("{error:#}"), "the worker stopped with an error");
        }
        Err(_) => tracing::warn!("the worker did not stop within 4 s"),
        _ => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error")),
        )
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kisum-queue-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run());
    // Leftover tasks (the stdin reader, a worker past its grace) must not
    // hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kisum-queue-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

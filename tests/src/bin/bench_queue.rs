//! Queue benchmark: the real worker binary on the no-op queue against real
//! Postgres. Reports:
//! - enqueue: 100,000 `Noop` jobs through `shared::jobs::enqueue_many`,
//!   1,000 per statement;
//! - processing, with 1 and then 2 worker processes (separate runs, each on
//!   100,000 fresh jobs): jobs/s from spawning the workers to the last
//!   `done_at`, from the first fetch (`lock_at`) to the last `done_at`, and
//!   over the `done_at` spread;
//! - latency: 1,000 sequential jobs on an idle queue, each enqueued once the
//!   previous one is done: p50/p95/p99/max of `lock_at - run_at` (enqueue to
//!   fetch) and of `done_at - run_at`, with the interval poll at 10 s so that
//!   a missed wake-up shows as a multi-second outlier;
//! - kill -9: two workers, a queue canary working on one of them, that
//!   process SIGKILLed: seconds until the other starts it again and until it
//!   is done (heartbeat and orphan timeout as configured, by default 5 s and
//!   30 s).
//!
//! Then it runs the graphile-worker peer (`../shared/tools/queue_peer.sh`),
//! when present, on the same Postgres, and embeds its JSON line and our
//! ratios to it.
//!
//! Run: `./deploy/bench.sh queue` (release build). Knobs: `JOBS` (100000),
//! `ENQUEUE_BATCH` (1000), `LAT_SAMPLES` (1000), `LAT_POLL_INTERVAL_MS`
//! (10000), `KILL_WORK_MS` (10000), `QUEUE_PEER` (the peer script; `none`
//! skips it), `STAGES` (default `process,latency,kill`). The workers get the
//! worker settings of this process's environment (`WORKER_*`,
//! `DATABASE_MAX_CONNECTIONS`, `PGSSLMODE`), else the worker's defaults.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kisum_tests::{TestDb, WorkerProcess};
use serde_json::{Value, json};
use shared::config::{Env, WorkerConfig};
use shared::jobs::{Job, Noop, Schedule};
use sqlx::{Connection, PgConnection, PgPool};

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    round(sorted[index], 2)
}

fn load_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU seconds (user and system) of a process so far.
fn process_cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Busy CPU seconds of the whole machine so far (every process, all cores).
fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (ticks.iter().take(8).sum::<f64>() - idle) / 100.0
}

fn log(what: &str) {
    eprintln!("[bench_queue] {what} (load {:.2})", load_1m());
}

/// The worker settings in force: this process's environment over the
/// worker's defaults, spelled out so the harness's test settings never apply.
fn worker_settings(database_url: &str) -> (WorkerConfig, Vec<(String, String)>) {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("WORKER_") || k.starts_with("DATABASE_") || k == "PGSSLMODE")
        .collect();
    vars.push(("DATABASE_URL".into(), database_url.into()));
    let config = WorkerConfig::from_env(&Env::from_map(vars.clone())).expect("worker settings");
    vars.retain(|(k, _)| k != "DATABASE_URL");
    let explicit = [
        (
            "DATABASE_MAX_CONNECTIONS",
            config.database.max_connections.to_string(),
        ),
        ("WORKER_CONCURRENCY", config.concurrency.to_string()),
        ("WORKER_BUFFER_SIZE", config.buffer_size.to_string()),
        (
            "WORKER_POLL_INTERVAL_MS",
            config.poll_interval.as_millis().to_string(),
        ),
        (
            "WORKER_HEARTBEAT_SECONDS",
            config.heartbeat.as_secs().to_string(),
        ),
        (
            "WORKER_ORPHAN_TIMEOUT_SECONDS",
            config.orphan_timeout.as_secs().to_string(),
        ),
    ];
    for (k, v) in explicit {
        vars.retain(|(key, _)| key != k);
        vars.push((k.into(), v));
    }
    (config, vars)
}

fn spawn(database_url: &str, vars: &[(String, String)], extra: &[(&str, &str)]) -> WorkerProcess {
    let mut all: Vec<(&str, &str)> = vars
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    WorkerProcess::spawn(database_url, &all)
}

/// Enqueues `jobs` no-op jobs, `batch` per statement
/// (`shared::jobs::enqueue_many`); returns seconds.
async fn enqueue(pool: &PgPool, jobs: u64, batch: u64) -> f64 {
    let mut conn = pool.acquire().await.unwrap();
    let started = Instant::now();
    let mut n = 0;
    while n < jobs {
        let chunk: Vec<Noop> = (n..jobs.min(n + batch)).map(|n| Noop { n }).collect();
        n += chunk.len() as u64;
        shared::jobs::enqueue_many(&mut conn, &chunk, None)
            .await
            .unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// Whether a no-op job is still to run: due, scheduled or running.
async fn open_noops(conn: &mut PgConnection) -> bool {
    shared::jobs::queue::in_flight::<Noop>(conn).await.unwrap()
}

async fn wait_drained(pool: &PgPool, workers: &mut [WorkerProcess], cap: Duration) {
    let started = Instant::now();
    let mut conn = pool.acquire().await.unwrap();
    while open_noops(&mut conn).await {
        for w in workers.iter_mut() {
            if let Some(status) = w.child.try_wait().unwrap() {
                panic!("a worker exited early: {status}");
            }
        }
        assert!(started.elapsed() < cap, "queue not drained in {cap:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One processing run: fresh jobs, `count` workers spawned at once, until
/// every job is done.
async fn process(
    pool: &PgPool,
    db: &TestDb,
    vars: &[(String, String)],
    count: usize,
    jobs: u64,
    batch: u64,
) -> Value {
    kisum_tests::queue::delete(pool, Noop::QUEUE).await;
    kisum_tests::queue::vacuum(pool).await;
    log(&format!("enqueue {jobs} jobs for {count} worker(s)"));
    let enqueue_s = enqueue(pool, jobs, batch).await;
    kisum_tests::queue::vacuum(pool).await;
    let load = load_1m();
    log(&format!("process with {count} worker(s)"));
    let spawned_at = Utc::now();
    let spawned = Instant::now();
    let busy_before = machine_busy_s();
    let mut workers: Vec<WorkerProcess> = (0..count).map(|_| spawn(&db.url, vars, &[])).collect();
    wait_drained(pool, &mut workers, Duration::from_secs(900)).await;
    let polled_s = spawned.elapsed().as_secs_f64();
    let machine_busy = machine_busy_s() - busy_before;
    let worker_cpu: f64 = workers.iter().map(|w| process_cpu_s(w.pid())).sum();
    for w in &mut workers {
        assert!(w.terminate().await.success(), "worker exits cleanly");
    }
    let kisum_tests::queue::RunSummary {
        first_lock,
        first_done,
        last_done,
        done,
        not_done: failed,
    } = kisum_tests::queue::run_summary(pool, Noop::QUEUE).await;
    let secs = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).as_seconds_f64();
    let total_s = secs(spawned_at, last_done);
    let after_start_s = secs(first_lock, last_done);
    let spread_s = secs(first_done, last_done);
    let rate = |s: f64| (done as f64 / s).round();
    json!({
        "workers": count,
        "enqueue_s": round(enqueue_s, 2),
        "load_1m": load,
        "done": done, "not_done": failed,
        "seconds": round(total_s, 3),
        "startup_s": round(secs(spawned_at, first_lock), 3),
        "per_s": rate(total_s),
        "per_s_after_start": rate(after_start_s),
        "per_s_done_spread": rate(spread_s),
        "drain_observed_s": round(polled_s, 2),
        "worker_cpu_s": round(worker_cpu, 2),
        "machine_busy_pct": round(100.0 * machine_busy / polled_s / cores() as f64, 0),
    })
}

/// Sequential jobs on an idle queue: each enqueued once the previous is done.
async fn latency(pool: &PgPool, db: &TestDb, vars: &[(String, String)], samples: u64) -> Value {
    let poll_ms = env_num("LAT_POLL_INTERVAL_MS", 10_000).to_string();
    let mut worker = spawn(&db.url, vars, &[("WORKER_POLL_INTERVAL_MS", &poll_ms)]);
    // Warm-up, as graphile's latency test: 100 jobs, drained, then 1 s.
    enqueue(pool, 100, 100).await;
    wait_drained(
        pool,
        std::slice::from_mut(&mut worker),
        Duration::from_secs(60),
    )
    .await;
    kisum_tests::queue::delete(pool, Noop::QUEUE).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let load = load_1m();
    log(&format!("latency over {samples} sequential jobs"));
    let mut conn = pool.acquire().await.unwrap();
    let mut stuck = 0;
    for n in 0..samples {
        shared::jobs::enqueue(&mut conn, &Noop { n }, Schedule::now())
            .await
            .unwrap();
        let started = Instant::now();
        while open_noops(&mut conn).await {
            if started.elapsed() > Duration::from_secs(30) {
                stuck += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert!(worker.terminate().await.success(), "worker exits cleanly");
    let rows = kisum_tests::queue::latencies_ms(pool, Noop::QUEUE).await;
    let mut start: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let mut done: Vec<f64> = rows.iter().map(|r| r.1).collect();
    start.sort_by(f64::total_cmp);
    done.sort_by(f64::total_cmp);
    json!({
        "samples": start.len(),
        "stuck_30s": stuck,
        "poll_interval_ms": poll_ms.parse::<u64>().unwrap(),
        "load_1m": load,
        "min": percentile(&start, 0.0), "p50": percentile(&start, 0.5), "p95": percentile(&start, 0.95),
        "p99": percentile(&start, 0.99), "max": percentile(&start, 1.0),
        "over_100ms": start.iter().filter(|ms| **ms > 100.0).count(),
        "to_done_p50": percentile(&done, 0.5), "to_done_p99": percentile(&done, 0.99),
        "to_done_max": percentile(&done, 1.0),
    })
}

/// Two workers; a canary starts on one, which is SIGKILLed; until the other
/// runs it again.
async fn kill(
    pool: &PgPool,
    db: &TestDb,
    vars: &[(String, String)],
    config: &WorkerConfig,
) -> Value {
    let work_ms = env_num("KILL_WORK_MS", 10_000);
    let mut workers = [spawn(&db.url, vars, &[]), spawn(&db.url, vars, &[])];
    let pids = [workers[0].pid(), workers[1].pid()];
    let registered = Instant::now();
    loop {
        let ours = pids.map(|pid| format!(":{pid}#"));
        let n = kisum_tests::queue::workers(pool)
            .await
            .iter()
            .filter(|w| w.queue == "queue_canary" && ours.iter().any(|p| w.id.contains(p)))
            .count();
        if n == 2 {
            break;
        }
        assert!(
            registered.elapsed() < Duration::from_secs(30),
            "workers register"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let load = load_1m();
    log("kill -9 of the worker running a canary");
    let mut conn = pool.acquire().await.unwrap();
    let canary = shared::ops::canary::request(
        &mut conn,
        "bench",
        &shared::ops::canary::CanaryIn {
            work_ms: i32::try_from(work_ms).unwrap(),
            fail_attempts: 0,
        },
    )
    .await
    .unwrap();
    let state = |pool: PgPool| async move {
        sqlx::query_as::<_, (i32, Option<String>, bool)>(
            "SELECT attempts, last_worker, completed_at IS NOT NULL FROM queue_canaries WHERE id = $1",
        )
        .bind(canary.id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let requested = Instant::now();
    let first = loop {
        let (attempts, worker, _) = state(pool.clone()).await;
        if attempts >= 1 {
            break worker.unwrap();
        }
        assert!(
            requested.elapsed() < Duration::from_secs(30),
            "canary starts"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let victim = usize::from(!first.ends_with(&format!(":{}", pids[0])));
    let survivor = format!(":{}", pids[1 - victim]);
    workers[victim].kill9().await;
    let killed = Instant::now();
    let cap = config.orphan_timeout
        + config.heartbeat * 2
        + Duration::from_millis(work_ms)
        + Duration::from_secs(60);
    let (mut rerun_s, mut done_s) = (None, None);
    while done_s.is_none() && killed.elapsed() < cap {
        let (attempts, worker, completed) = state(pool.clone()).await;
        if rerun_s.is_none()
            && attempts >= 2
            && worker.as_deref().is_some_and(|w| w.ends_with(&survivor))
        {
            rerun_s = Some(round(killed.elapsed().as_secs_f64(), 2));
        }
        if completed {
            done_s = Some(round(killed.elapsed().as_secs_f64(), 2));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (attempts, _, _) = state(pool.clone()).await;
    assert!(
        workers[1 - victim].terminate().await.success(),
        "worker exits cleanly"
    );
    json!({
        "heartbeat_s": config.heartbeat.as_secs(),
        "orphan_timeout_s": config.orphan_timeout.as_secs(),
        "work_ms": work_ms,
        "load_1m": load,
        "rerun_s": rerun_s, "done_s": done_s, "attempts": attempts,
    })
}

/// Runs the peer script on the same server; its last stdout line is JSON.
async fn peer(server: &str) -> Option<Value> {
    let script =
        std::env::var("QUEUE_PEER").unwrap_or_else(|_| "../shared/tools/queue_peer.sh".into());
    if script == "none" || !std::path::Path::new(&script).exists() {
        log(&format!("no peer run ({script} absent or skipped)"));
        return None;
    }
    log(&format!("peer: {script}"));
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .arg(server)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let last = lines.pop().unwrap_or_default();
    for line in lines {
        eprintln!("{line}");
    }
    match serde_json::from_str(last) {
        Ok(value) if output.status.success() => Some(value),
        _ => {
            eprintln!("peer failed ({}): {last}", output.status);
            None
        }
    }
}

/// A migrated database under a name of its own: sweeps of leftover
/// `kisum_test_*` databases by concurrent test runs must not drop it.
async fn own_database() -> TestDb {
    let test = TestDb::migrated().await;
    let name = format!("kisum_bench_queue_{}", std::process::id());
    let (server, _) = test.url.rsplit_once('/').unwrap();
    let url = format!("{server}/{name}");
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("ALTER DATABASE {} RENAME TO {name}", test.name),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    TestDb { name, url }
}

fn ratio(ours: &Value, theirs: &Value) -> Value {
    match (ours.as_f64(), theirs.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => json!(round(a / b, 2)),
        _ => Value::Null,
    }
}

#[tokio::main]
async fn main() {
    let jobs = env_num("JOBS", 100_000);
    let batch = env_num("ENQUEUE_BATCH", 1000).max(1);
    let samples = env_num("LAT_SAMPLES", 1000);
    let stages = std::env::var("STAGES").unwrap_or_else(|_| "process,latency,kill".into());
    let db = own_database().await;
    let pool = db.pool().await;
    let (config, vars) = worker_settings(&db.url);
    let pg: (String, String, String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('fsync'),
                current_setting('synchronous_commit'), current_setting('shared_buffers')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut report = json!({
        "bench": "queue", "jobs": jobs, "enqueue_batch": batch,
        "cores": cores(),
        "pg": {"version": pg.0, "fsync": pg.1, "synchronous_commit": pg.2, "shared_buffers": pg.3},
        "worker": vars.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "load_1m_start": load_1m(),
    });
    if stages.contains("process") {
        let one = process(&pool, &db, &vars, 1, jobs, batch).await;
        let two = process(&pool, &db, &vars, 2, jobs, batch).await;
        report["enqueue"] = json!({
            "seconds": one["enqueue_s"],
            "per_s": (jobs as f64 / one["enqueue_s"].as_f64().unwrap()).round(),
        });
        report["process_1"] = one;
        report["process_2"] = two;
    }
    if stages.contains("latency") {
        report["latency_ms"] = latency(&pool, &db, &vars, samples).await;
    }
    if stages.contains("kill") {
        report["kill"] = kill(&pool, &db, &vars, &config).await;
    }
    report["load_1m_end"] = json!(load_1m());
    let server = db.url.rsplit_once('/').map(|(s, _)| s.to_owned()).unwrap();
    pool.close().await;
    drop(db);
    if let Some(peer) = peer(&server).await {
        report["vs_peer"] = json!({
            "enqueue_per_s": ratio(&report["enqueue"]["per_s"], &peer["enqueue_per_s"]),
            "process_per_s": ratio(&report["process_2"]["per_s_after_start"], &peer["process_per_s"]),
            "latency_p50": ratio(&report["latency_ms"]["p50"], &peer["latency_ms"]["p50"]),
            "latency_p99": ratio(&report["latency_ms"]["p99"], &peer["latency_ms"]["p99"]),
        });
        report["peer"] = peer;
    }
    println!("{report}");
}

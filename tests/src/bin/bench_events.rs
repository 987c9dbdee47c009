//! The change-feed stream's fan-out on one release `kisum-api` process:
//! 10, then 1,000 concurrent streams of one org while events are written
//! at a steady rate (`RATE` a second for `DURATION_S`), each in its own
//! committed transaction. Prints one JSON line: per stage, the delay from
//! the writer sending its commit to each stream's delivery (p50/p99 over every
//! delivery), the API's resident memory per open stream, and what Postgres
//! did meanwhile besides the writer (transactions a second, from
//! `pg_stat_database.xact_commit`), which must not grow with the streams.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kisum_tests::processes::ApiProcess;
use kisum_tests::{TestApp, TestDb};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn commits(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[i] * 100.0).round() / 100.0
}

/// When each event `n`'s commit was sent, by `n`.
type Commits = Arc<Mutex<HashMap<u64, Instant>>>;
/// Delays from commit to delivery, in ms, and deliveries counted.
type Delays = Arc<Mutex<Vec<f64>>>;

/// Reads one stream, recording each `offer.bench_<n>` event's delay.
async fn follow(response: reqwest::Response, committed: Commits, delays: Delays) {
    let mut response = response;
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let now = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let n = block
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .and_then(|t| t.trim().strip_prefix("offer.bench_"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(n) = n {
                let at = committed.lock().unwrap().get(&n).copied();
                if let Some(at) = at {
                    let ms = now.saturating_duration_since(at).as_secs_f64() * 1000.0;
                    delays.lock().unwrap().push(ms);
                }
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let rate = env_num("RATE", 20);
    let duration = Duration::from_secs(env_num("DURATION_S", 15));
    let stages: Vec<usize> = std::env::var("STREAMS")
        .unwrap_or_else(|_| "10,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let most = stages.iter().copied().max().unwrap_or(1);

    let db = TestDb::migrated().await;
    let setup = TestApp::builder()
        .database(TestDb::existing(&db.url))
        .spawn()
        .await;
    let p = kisum_tests::booking_parties(&setup, "Bench Agency", "Bench Artist", &[]).await;
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": chrono::Utc::now().date_naive() + chrono::Duration::days(90),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 500_000},
        "expires_at": chrono::Utc::now() + chrono::Duration::days(7), "send": true,
    });
    let (status, offer) = p
        .promoter
        .send(&setup, Method::POST, "/api/v1/offers", Some(offer))
        .await;
    assert_eq!(status, 201, "{offer}");
    let offer: uuid::Uuid = offer["id"].as_str().unwrap().parse().unwrap();
    let artist: uuid::Uuid = p.artist.parse().unwrap();
    let pool = db.pool().await;

    let per_org = (most + 10).to_string();
    let api = ApiProcess::spawn(
        &db.url,
        &[
            ("EVENT_STREAMS_PER_ORG", per_org.as_str()),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut next = 0u64;
    for &streams in &stages {
        let committed: Commits = Arc::default();
        let delays: Delays = Arc::default();
        let rss_before = rss_mib(api.child.id().unwrap());
        let mut readers = Vec::new();
        for _ in 0..streams {
            let response = client
                .get(api.url("/api/v1/events/stream"))
                .bearer_auth(&p.agency.token)
                .header("x-org", p.agency.id.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            readers.push(tokio::spawn(follow(
                response,
                committed.clone(),
                delays.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_open = rss_mib(api.child.id().unwrap());
        let commits_before = commits(&pool).await;
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        let mut written = 0u64;
        while started.elapsed() < duration {
            tick.tick().await;
            let n = next;
            next += 1;
            let mut tx = pool.begin().await.unwrap();
            let action = format!("bench_{n}");
            shared::domain::booking::activity::record(
                &mut tx,
                shared::domain::booking::activity::Change {
                    artist_id: artist,
                    subject_type: "offer",
                    subject_id: offer,
                    action: &action,
                    from: None,
                    to: None,
                    actor: "bench",
                    details: json!({}),
                },
            )
            .await
            .unwrap();
            // From the commit being sent: a stream may see the event before
            // the writer sees its commit acknowledged.
            committed.lock().unwrap().insert(n, Instant::now());
            tx.commit().await.unwrap();
            written += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        let commits_after = commits(&pool).await;
        // Deliveries still under way.
        let expected = written as usize * streams;
        let wait = Instant::now();
        while delays.lock().unwrap().len() < expected && wait.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut d = delays.lock().unwrap().clone();
        d.sort_by(f64::total_cmp);
        // Two statements of ours besides the writer's own commit: the
        // commit counter reads themselves.
        let others = commits_after - commits_before - i64::try_from(written).unwrap() - 1;
        rows.push(json!({
            "streams": streams,
            "events_written": written,
            "deliveries": d.len(),
            "deliveries_expected": expected,
            "delay_ms_p50": percentile(&d, 0.5),
            "delay_ms_p99": percentile(&d, 0.99),
            "delay_ms_max": percentile(&d, 1.0),
            "api_rss_mib_before": (rss_before * 10.0).round() / 10.0,
            "api_rss_mib_open": (rss_open * 10.0).round() / 10.0,
            "rss_kib_per_stream": ((rss_open - rss_before) * 1024.0 / streams as f64).round(),
            "other_xact_per_s": (others as f64 / seconds * 10.0).round() / 10.0,
        }));
        eprintln!("{}", rows.last().unwrap());
        for reader in readers {
            reader.abort();
        }
        // Let the server see the closed streams before the next stage.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "{}",
        json!({"bench": "events", "rate_per_s": rate, "duration_s": duration.as_secs(), "stages": rows})
    );
    drop(api);
    drop(setup);
}

//! Finance handoff benchmark: `HANDOFFS` confirmed bookings (made over
//! HTTP against the real API, so each writes its handoff), delivered by the
//! real worker binary to a local fake Finance that accepts at once:
//! deliveries per second with one and with two worker processes. Then the
//! same with `FAIL_PERCENT` of the first answers 503 (retried on a 1 s
//! schedule): time to drain, and a check that every booking was accepted
//! exactly once.
//!
//! Run: `./deploy/bench.sh handoff` (release build). Knobs: `HANDOFFS`
//! (10000), `FAIL_PERCENT` (30), `WORKER_CONCURRENCY` (8).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use futures::StreamExt;
use kisum_tests::{TestApp, WorkerProcess};
use serde_json::json;
use sha2::{Digest, Sha256};
use shared::jobs::FinanceHandoff;
use sqlx::PgPool;
use uuid::Uuid;

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Per webhook id: deliveries seen and 2xx answers given.
#[derive(Default)]
struct Seen {
    posts: u64,
    accepted: HashMap<String, u32>,
    failed_once: HashMap<String, bool>,
}

/// A fake Finance: answers 503 to the first delivery of `fail_percent`
/// of the ids (chosen by a hash of the id), 204 otherwise.
async fn fake_finance(seen: Arc<Mutex<Seen>>, fail_percent: Arc<Mutex<u8>>) -> String {
    let app = Router::new().route(
        "/webhooks",
        axum::routing::post(move |headers: HeaderMap| {
            let seen = seen.clone();
            let fail_percent = *fail_percent.lock().unwrap();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                let mut seen = seen.lock().unwrap();
                seen.posts += 1;
                let digest = Sha256::digest(id.as_bytes());
                let unlucky =
                    u16::from_be_bytes([digest[0], digest[1]]) % 100 < u16::from(fail_percent);
                let first = !seen.failed_once.contains_key(&id);
                if unlucky && first {
                    seen.failed_once.insert(id, true);
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                *seen.accepted.entry(id).or_default() += 1;
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/webhooks")
}

async fn undelivered(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM finance_handoffs WHERE status <> 'delivered'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every handoff back to pending with a fresh first attempt queued.
async fn reset(pool: &PgPool) -> usize {
    kisum_tests::queue::delete(pool, "finance_handoff").await;
    sqlx::raw_sql(
        "DELETE FROM finance_handoff_attempts;
         UPDATE finance_handoffs SET status = 'pending', attempts = 0, next_attempt_at = NULL,
                delivered_at = NULL, last_error = NULL;",
    )
    .execute(pool)
    .await
    .unwrap();
    kisum_tests::queue::vacuum(pool).await;
    let ids: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM finance_handoffs")
        .fetch_all(pool)
        .await
        .unwrap();
    let jobs: Vec<FinanceHandoff> = ids
        .iter()
        .map(|(id,)| FinanceHandoff {
            handoff_id: *id,
            attempt: 1,
        })
        .collect();
    let mut conn = pool.acquire().await.unwrap();
    shared::jobs::enqueue_many(&mut conn, &jobs, None)
        .await
        .unwrap();
    jobs.len()
}

async fn stage(
    app: &TestApp,
    url: &str,
    workers: usize,
    seen: &Arc<Mutex<Seen>>,
) -> serde_json::Value {
    let handoffs = reset(&app.pool).await;
    *seen.lock().unwrap() = Seen::default();
    let concurrency = std::env::var("WORKER_CONCURRENCY").unwrap_or_else(|_| "8".into());
    let env = [
        ("FINANCE_BASE_URL", url),
        (
            "FINANCE_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ("FINANCE_RETRY_SCHEDULE_SECONDS", "0,1,1,1,1,1,1,1"),
        ("FINANCE_TIMEOUT_SECONDS", "5"),
        ("WORKER_CONCURRENCY", concurrency.as_str()),
        ("DATABASE_MAX_CONNECTIONS", "20"),
    ];
    let started = Instant::now();
    let _workers: Vec<WorkerProcess> = (0..workers)
        .map(|_| WorkerProcess::spawn(&app.db.url, &env))
        .collect();
    while undelivered(&app.pool).await > 0 {
        assert!(started.elapsed() < Duration::from_secs(1800), "not drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let seen = seen.lock().unwrap();
    let accepted_once = seen.accepted.values().filter(|n| **n == 1).count();
    let accepted_twice = seen.accepted.values().filter(|n| **n > 1).count();
    json!({
        "workers": workers,
        "handoffs": handoffs,
        "seconds": (seconds * 100.0).round() / 100.0,
        "delivered_per_s": (handoffs as f64 / seconds).round(),
        "posts": seen.posts,
        "answered_503": seen.failed_once.len(),
        "accepted_once": accepted_once,
        "accepted_twice": accepted_twice,
    })
}

fn main() {
    let runtime = api::runtime().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let handoffs = env_num("HANDOFFS", 10_000);
    let fail_percent = u8::try_from(env_num("FAIL_PERCENT", 30).min(100)).unwrap_or(30);
    let app = TestApp::builder()
        .env("DATABASE_MAX_CONNECTIONS", "40")
        .env("RATE_LIMIT_PER_MINUTE", "0")
        .spawn()
        .await;
    // Ten agencies' artists, a thousand dates each.
    let per_artist = 1000;
    let artists = handoffs.div_ceil(per_artist);
    let started = Instant::now();
    let mut parties = Vec::new();
    for n in 0..artists {
        parties.push(
            kisum_tests::booking_parties(
                &app,
                &format!("Bench {n} Agency"),
                &format!("Bench {n}"),
                &[],
            )
            .await,
        );
    }
    let made: Vec<String> = futures::stream::iter(0..handoffs)
        .map(|n| {
            let p = &parties[n / per_artist];
            let app = &app;
            let offer = json!({
                "artist_id": p.artist, "promoter_company_id": p.promoter_company,
                "event_date": Utc::now().date_naive() + chrono::Duration::days(30 + (n % per_artist) as i64),
                "venue": {"name": "Hall", "city_id": 2759794, "capacity": 1200},
                "deal": {"type": "versus", "currency": "EUR", "guarantee_amount": 900_000,
                         "percentage": 80.0, "percentage_basis": "net", "deposit_percent": 25.0,
                         "deposit_due_date": Utc::now().date_naive() + chrono::Duration::days(20)},
                "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
            });
            async move { kisum_tests::confirmed_booking(app, p, offer).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(made.len(), handoffs);
    let setup_s = started.elapsed().as_secs_f64();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let fail = Arc::new(Mutex::new(0u8));
    let url = fake_finance(seen.clone(), fail.clone()).await;
    let one = stage(&app, &url, 1, &seen).await;
    let two = stage(&app, &url, 2, &seen).await;
    *fail.lock().unwrap() = fail_percent;
    let flaky = stage(&app, &url, 2, &seen).await;
    println!(
        "{}",
        json!({
            "benchmark": "handoff",
            "setup_s": (setup_s * 10.0).round() / 10.0,
            "accepting": [one, two],
            "with_503": {"fail_percent": fail_percent, "run": flaky},
        })
    );
}

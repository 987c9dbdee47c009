//! Booking benchmark: generates 100,000 artists, 1,000,000 availability
//! windows and 200,000 holds and bookings, then reports, over HTTP against
//! the real API:
//! - p50/p95/p99 of avails search for a one-month window with a country and
//!   a genre filter;
//! - booking confirms per second under 16 concurrent clients;
//! - with the real worker binary, the time until 10,000 holds that come due
//!   at the same moment are all expired.
//!
//! Run: `./deploy/bench.sh booking` (release build). Knobs: `ARTISTS`
//! (100000), `WINDOWS_PER_ARTIST` (10), `HOLDS` and `BOOKINGS` (100000 each),
//! `SAMPLES` (300), `CONFIRMS` (2000), `CLIENTS` (16), `EXPIRING` (10000);
//! `GENERATE_ONLY` keeps the generated database (for EXPLAIN) and stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kisum_tests::world::{AGENCY, PROMOTER, PROMOTER_ORG, booking_world};
use kisum_tests::{TestApp, TestDb, Token, WorkerProcess};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn env_num(key: &str, default: i64) -> i64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    ms(sorted[index])
}

/// Accepted offers ready to confirm, on dates nobody holds or books.
async fn accepted_offers(pool: &PgPool, count: i64) -> Vec<Uuid> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH o AS (
           INSERT INTO offers (id, artist_id, promoter_company_id, agency_company_id, event_date, status, written_by_side, expires_at, created_by)
           SELECT gen_random_uuid(), a.id, '{PROMOTER}', '{AGENCY}', current_date + (365 + i % 20)::int, 'accepted', 'agency',
                  now() + interval '30 days', 'bench'
             FROM generate_series(0, {count} - 1) AS i
             JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM artists) a ON a.n = i / 20
           RETURNING id),
         v AS (INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
               SELECT id, 1, '{{\"type\":\"flat\",\"currency\":\"EUR\",\"guarantee_amount\":100000}}', 'agency', 'bench' FROM o)
         SELECT id FROM o"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::main]
async fn main() {
    let artists = env_num("ARTISTS", 100_000);
    let windows = env_num("WINDOWS_PER_ARTIST", 10);
    let holds = env_num("HOLDS", 100_000);
    let bookings = env_num("BOOKINGS", 100_000);
    let samples = env_num("SAMPLES", 300) as usize;
    let confirms = env_num("CONFIRMS", 2000);
    let clients = env_num("CLIENTS", 16) as usize;
    let expiring = env_num("EXPIRING", 10_000);

    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let started = Instant::now();
    booking_world(&pool, artists, windows, holds, bookings).await;
    if std::env::var("GENERATE_ONLY").is_ok() {
        eprintln!("kept database {}", db.name);
        std::mem::forget(db);
        return;
    }
    let generate_s = started.elapsed().as_secs_f64();
    let offers = accepted_offers(&pool, confirms).await;
    let app = TestApp::builder().database(db).spawn().await;
    let token = Token::user("bench")
        .org(PROMOTER_ORG, "owner")
        .claim("exp", json!(chrono::Utc::now().timestamp() + 86_400))
        .hs256();

    // Avails search: one-month windows, a country and a parent genre.
    let genres = ["electronic", "rock", "hip-hop", "jazz", "pop", "latin"];
    let countries = ["NL", "DE", "GB", "FR", "ES", "US", "BE", "SE"];
    let mut times = Vec::with_capacity(samples);
    let mut hits = 0;
    for i in 0..samples {
        let from = chrono::Utc::now().date_naive() + chrono::Duration::days((i as i64 * 13) % 300);
        let to = from + chrono::Duration::days(30);
        let path = format!(
            "/api/v1/avails/search?from={from}&to={to}&country={}&genre={}&limit=50",
            countries[i % countries.len()],
            genres[i % genres.len()]
        );
        let begun = Instant::now();
        let response = app
            .get(&path)
            .bearer_auth(&token)
            .header("x-org", PROMOTER_ORG.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        times.push(begun.elapsed());
        if !body["items"].as_array().unwrap().is_empty() {
            hits += 1;
        }
    }
    times.sort();

    // Confirms under concurrent clients.
    let queue = Arc::new(tokio::sync::Mutex::new(offers));
    let begun = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let queue = queue.clone();
        let http = app.http.clone();
        let url = app.url("/api/v1/bookings");
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u32;
            loop {
                let Some(offer) = queue.lock().await.pop() else {
                    break;
                };
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("x-org", PROMOTER_ORG.to_string())
                    .json(&json!({"offer_id": offer}))
                    .send()
                    .await
                    .unwrap();
                if response.status() == 201 {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut confirmed = 0;
    for task in tasks {
        confirmed += task.await.unwrap();
    }
    let confirm_s = begun.elapsed().as_secs_f64();

    // Expiry: holds all due at the same moment, each with its job.
    let due_at = chrono::Utc::now() + chrono::Duration::seconds(15);
    let mut tx = pool.begin().await.unwrap();
    let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "INSERT INTO holds (id, artist_id, hold_date, agency_company_id, promoter_company_id, priority, status, expires_at, created_by)
         SELECT gen_random_uuid(), a.id, current_date + (340 + i % 5)::int, '{AGENCY}', '{PROMOTER}', 1, 'active', $1, 'bench'
           FROM generate_series(0, {expiring} - 1) AS i
           JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM artists) a ON a.n = i / 5
         RETURNING id"
    )))
    .bind(due_at)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    for id in &ids {
        shared::jobs::enqueue(
            &mut tx,
            &shared::jobs::HoldExpiry { hold_id: *id },
            shared::jobs::Schedule::at(due_at),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let _worker = WorkerProcess::spawn(
        &app.db.url,
        &[
            ("WORKER_CONCURRENCY", "16"),
            ("WORKER_BUFFER_SIZE", "200"),
            ("WORKER_POLL_INTERVAL_MS", "200"),
        ],
    );
    tokio::time::sleep((due_at - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    let due = Instant::now();
    let expire_s = loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM holds WHERE id = ANY($1) AND status = 'active'",
        )
        .bind(&ids)
        .fetch_one(&pool)
        .await
        .unwrap();
        if left == 0 {
            break due.elapsed().as_secs_f64();
        }
        assert!(
            due.elapsed() < Duration::from_secs(600),
            "{left} holds still active after 10 min"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM artists), (SELECT count(*) FROM availabilities),
                (SELECT count(*) FROM holds), (SELECT count(*) FROM bookings)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    println!(
        "{}",
        json!({
            "artists": counts.0, "availabilities": counts.1, "holds": counts.2, "bookings": counts.3,
            "generate_s": (generate_s * 10.0).round() / 10.0,
            "avails_search": {"samples": samples, "with_results": hits,
                "p50_ms": percentile(&times, 0.5), "p95_ms": percentile(&times, 0.95), "p99_ms": percentile(&times, 0.99)},
            "confirms": {"clients": clients, "confirmed": confirmed, "seconds": (confirm_s * 100.0).round() / 100.0,
                "per_second": (f64::from(confirmed) / confirm_s).round()},
            "expiry": {"holds": ids.len(), "seconds_after_due": (expire_s * 100.0).round() / 100.0},
        })
    );
}

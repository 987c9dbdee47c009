//! Directory search benchmark: generates 100,000 artists in a fresh
//! database, serves the real API, and reports p50/p95/p99 latency of
//! `GET /api/v1/artists` with a misspelled name and a genre filter.
//!
//! Run: `./deploy/bench.sh directory` (release build). Knobs: `ARTISTS`
//! (default 100000), `SAMPLES` (default 400), `KEEP_DB` (keep the database
//! for EXPLAIN).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use kisum_tests::{TestApp, TestDb, Token};
use serde_json::Value;
use uuid::Uuid;

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A plausible typo: two neighbouring letters swapped in the middle.
fn typo(name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let mid = chars.len() / 2;
    if mid + 1 < chars.len() && chars[mid].is_alphabetic() && chars[mid + 1].is_alphabetic() {
        chars.swap(mid, mid + 1);
    } else if mid > 0 {
        chars.remove(mid);
    }
    chars.into_iter().collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn measure(
    app: &TestApp,
    org: Uuid,
    token: &str,
    paths: &[String],
) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(paths.len());
    let mut hits = 0;
    for path in paths {
        let started = Instant::now();
        let response = app
            .get(path)
            .bearer_auth(token)
            .header("x-org", org.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        times.push(started.elapsed());
        if !body["items"].as_array().unwrap().is_empty() {
            hits += 1;
        }
    }
    times.sort();
    (times, hits)
}

#[tokio::main]
async fn main() {
    let artists = env_num("ARTISTS", 100_000) as i64;
    let samples = env_num("SAMPLES", 400);
    let db = TestDb::migrated().await;
    let pool = db.pool().await;

    let started = Instant::now();
    shared::demo::generate_artists(
        &pool,
        0x0bec0000_0000_7000_8000_000000000000,
        0,
        artists,
        None,
    )
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    let generate_s = started.elapsed().as_secs_f64();

    // Names and parent genres of real rows, to misspell and filter by.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.name, p.slug FROM artists a
           JOIN artist_genres ag ON ag.artist_id = a.id
           JOIN genres g ON g.id = ag.genre_id
           JOIN genres p ON p.id = g.parent_id
          ORDER BY md5(a.id::text) LIMIT $1",
    )
    .bind(samples as i64)
    .fetch_all(&pool)
    .await
    .unwrap();

    let app = TestApp::builder().database(db).spawn().await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "viewer")
        .claim(
            "exp",
            serde_json::json!(chrono::Utc::now().timestamp() + 86_400),
        )
        .hs256();
    let encode = |s: &str| s.replace(' ', "%20").replace('&', "%26");
    let typo_genre: Vec<String> = rows
        .iter()
        .map(|(name, genre)| {
            format!(
                "/api/v1/artists?q={}&genre={genre}&limit=20",
                encode(&typo(name))
            )
        })
        .collect();
    let typo_only: Vec<String> = rows
        .iter()
        .map(|(name, _)| format!("/api/v1/artists?q={}&limit=20", encode(&typo(name))))
        .collect();
    let genre_only: Vec<String> = rows
        .iter()
        .map(|(_, genre)| format!("/api/v1/artists?genre={genre}&limit=20"))
        .collect();
    // Warm-up: caches and connections.
    measure(&app, org, &token, &typo_genre[..typo_genre.len().min(30)]).await;

    let mut report = serde_json::Map::new();
    report.insert("artists".into(), artists.into());
    report.insert("samples".into(), rows.len().into());
    report.insert(
        "generate_s".into(),
        ((generate_s * 10.0).round() / 10.0).into(),
    );
    for (label, paths) in [
        ("typo_and_genre", &typo_genre),
        ("typo_only", &typo_only),
        ("genre_only", &genre_only),
    ] {
        let (times, hits) = measure(&app, org, &token, paths).await;
        report.insert(
            label.into(),
            serde_json::json!({
                "p50_ms": (percentile(&times, 0.50) * 100.0).round() / 100.0,
                "p95_ms": (percentile(&times, 0.95) * 100.0).round() / 100.0,
                "p99_ms": (percentile(&times, 0.99) * 100.0).round() / 100.0,
                "with_results": hits,
            }),
        );
    }
    println!("{}", Value::Object(report));
    if std::env::var("KEEP_DB").is_ok() {
        eprintln!("kept database {}", app.db.name);
        std::mem::forget(app);
    }
}

//! Read-model benchmark, on the booking benchmark's world (`ARTISTS`
//! artists with genres and home cities, `WINDOWS_PER_ARTIST` windows each,
//! `HOLDS` first holds, `BOOKINGS` confirmed bookings of one agency) plus a
//! fee range per artist:
//! - the full rebuild of both read models (as the nightly job runs it);
//! - marketplace p50/p95 for text (a misspelled name) + genre + country +
//!   fee + an availability window, over HTTP against the real API, and the
//!   same search called in-process (its SQL and decoding, no HTTP) in the
//!   same run;
//! - refresh lag: from a write (an availability window, over HTTP) until
//!   the artist's search row is rewritten, with the real worker process
//!   and a background load of other writes;
//! - the agency dashboard's p95 for the agency with `BOOKINGS` bookings.
//!
//! Run: `./deploy/bench.sh marketplace` (release build). Knobs: `ARTISTS`
//! (100000), `WINDOWS_PER_ARTIST` (5), `HOLDS` (50000), `BOOKINGS`
//! (10000), `SAMPLES` (200), `LAG_SAMPLES` (100), `BACKGROUND_PER_S` (20);
//! `GENERATE_ONLY` keeps the generated and rebuilt database (for EXPLAIN)
//! and stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use kisum_tests::world::{AGENCY_ORG, booking_world, exec, rebuild_read_model};
use kisum_tests::{TestApp, TestDb, Token, WorkerProcess};
use serde_json::{Value, json};
use shared::domain::read_models::{Model, search};
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

fn percentiles(mut times: Vec<Duration>) -> Value {
    times.sort();
    let p = |q: f64| ms(times[((times.len() as f64 - 1.0) * q).round() as usize]);
    json!({"p50_ms": p(0.5), "p95_ms": p(0.95), "max_ms": p(1.0), "samples": times.len()})
}

/// One letter of the name swapped for its neighbour: a typo.
fn misspell(name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let i = chars.len() / 2;
    if i + 1 < chars.len() {
        chars.swap(i, i + 1);
    }
    chars.into_iter().collect()
}

#[tokio::main]
async fn main() {
    let artists = env_num("ARTISTS", 100_000);
    let windows = env_num("WINDOWS_PER_ARTIST", 5);
    let holds = env_num("HOLDS", 50_000);
    let bookings = env_num("BOOKINGS", 10_000);
    let samples = env_num("SAMPLES", 200) as usize;
    let lag_samples = env_num("LAG_SAMPLES", 100) as usize;
    let background = env_num("BACKGROUND_PER_S", 20);

    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let started = Instant::now();
    booking_world(&pool, artists, windows, holds, bookings).await;
    exec(
        &pool,
        "INSERT INTO artist_profiles (artist_id, fee_min, fee_max, fee_currency)
         SELECT id, 100000 * (1 + n % 40), 100000 * (2 + n % 40), 'EUR'
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM artists) a
         ON CONFLICT (artist_id) DO UPDATE SET fee_min = excluded.fee_min, fee_max = excluded.fee_max,
                                                fee_currency = excluded.fee_currency;
         ANALYZE",
    )
    .await;
    let generate_s = started.elapsed().as_secs_f64();

    // The nightly rebuild of both read models.
    let mut rebuild = serde_json::Map::new();
    for model in Model::ALL {
        let begun = Instant::now();
        rebuild_read_model(&pool, model).await;
        rebuild.insert(
            model.as_str().to_owned(),
            json!((begun.elapsed().as_secs_f64() * 10.0).round() / 10.0),
        );
    }
    exec(&pool, "DELETE FROM read_model_dirty").await;
    kisum_tests::queue::delete_all(&pool).await;
    exec(&pool, "ANALYZE").await;
    // What autovacuum would do after the rewrite of every row.
    exec(&pool, "VACUUM ANALYZE artist_search").await;
    if std::env::var("GENERATE_ONLY").is_ok() {
        eprintln!("kept database {}", db.name);
        std::mem::forget(db);
        return;
    }

    // The queries: a misspelled name of an artist with an open day in the
    // window, its genre's parent, its country, a fee ceiling above its fee.
    let picks: Vec<(String, String, String, i64, chrono::NaiveDate)> = sqlx::query_as(
        "SELECT s.name, g.slug, s.country_code::text, s.fee_min * 2, lower(r)
           FROM artist_search s
           CROSS JOIN LATERAL (SELECT r FROM unnest(s.open_days) r LIMIT 1) o
           CROSS JOIN LATERAL (SELECT p.slug FROM genres p WHERE p.id = ANY (s.genre_ids) AND p.parent_id IS NULL LIMIT 1) g
          WHERE s.country_code IS NOT NULL
          ORDER BY s.artist_id LIMIT $1",
    )
    .bind(i64::try_from(samples).unwrap())
    .fetch_all(&pool)
    .await
    .unwrap();
    let observer = db.pool().await;
    let db_url = db.url.clone();
    let app = TestApp::builder().database(db).spawn().await;
    let token = Token::user("bench")
        .org(AGENCY_ORG, "owner")
        .claim("exp", json!(Utc::now().timestamp() + 86_400))
        .hs256();
    let query =
        |(name, genre, country, fee, day): &(String, String, String, i64, chrono::NaiveDate)| {
            let to = *day + chrono::Duration::days(30);
            search::MarketplaceQuery {
                q: Some(misspell(name)),
                genre: Some(genre.clone()),
                country: Some(country.clone()),
                max_fee: Some(*fee),
                currency: Some("EUR".to_owned()),
                available_from: Some(*day),
                available_to: Some(to),
                ..Default::default()
            }
        };
    let mut http = Vec::with_capacity(samples);
    let mut direct = Vec::with_capacity(samples);
    let mut found = 0;
    let mut conn = observer.acquire().await.unwrap();
    for pick in &picks {
        let q = query(pick);
        let path = format!(
            "/api/v1/marketplace/artists?q={}&genre={}&country={}&max_fee={}&currency=EUR&available_from={}&available_to={}",
            urlencode(q.q.as_deref().unwrap()),
            pick.1,
            pick.2,
            pick.3,
            q.available_from.unwrap(),
            q.available_to.unwrap(),
        );
        let begun = Instant::now();
        let response = app
            .get(&path)
            .bearer_auth(&token)
            .header("x-org", AGENCY_ORG.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        http.push(begun.elapsed());
        if body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == pick.0.as_str())
        {
            found += 1;
        }
        let begun = Instant::now();
        search::search(&mut conn, &q).await.unwrap();
        direct.push(begun.elapsed());
    }

    // Refresh lag under a background load of writes, with the real worker.
    let _worker = WorkerProcess::spawn(&db_url, &[]);
    let targets: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM artists ORDER BY random() LIMIT $1")
            .bind(i64::try_from(lag_samples * 2 + 200).unwrap())
            .fetch_all(&pool)
            .await
            .unwrap();
    let post_window = |artist: Uuid, day: i64| {
        let body = json!({"starts_on": Utc::now().date_naive() + chrono::Duration::days(day),
                          "ends_on": Utc::now().date_naive() + chrono::Duration::days(day),
                          "status": "available", "territory": {"worldwide": true}, "published": true});
        app.post(&format!("/api/v1/artists/{artist}/availabilities"))
            .bearer_auth(&token)
            .header("x-org", AGENCY_ORG.to_string())
            .json(&body)
            .send()
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let http = app.http.clone();
        let base = app.base.clone();
        let token = token.clone();
        let others = targets[lag_samples..].to_vec();
        tokio::spawn(async move {
            let mut sent = 0u64;
            let period = Duration::from_millis(1000 / u64::try_from(background.max(1)).unwrap());
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let artist = others[i % others.len()];
                let body = json!({"starts_on": Utc::now().date_naive() + chrono::Duration::days(400),
                                  "ends_on": Utc::now().date_naive() + chrono::Duration::days(400),
                                  "status": "available", "territory": {"worldwide": true}, "published": false});
                let _ = http
                    .post(format!("{base}/api/v1/artists/{artist}/availabilities"))
                    .bearer_auth(&token)
                    .header("x-org", AGENCY_ORG.to_string())
                    .json(&body)
                    .send()
                    .await;
                sent += 1;
                i += 1;
                tokio::time::sleep(period).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut lags = Vec::with_capacity(lag_samples);
    for (n, artist) in targets[..lag_samples].iter().enumerate() {
        let day = 200 + i64::try_from(n).unwrap();
        let before: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&pool)
            .await
            .unwrap();
        let begun = Instant::now();
        let response = post_window(*artist, day).await.unwrap();
        assert_eq!(response.status(), 201);
        loop {
            if refreshed_after(&pool, *artist, before).await {
                break;
            }
            assert!(
                begun.elapsed() < Duration::from_secs(30),
                "no refresh of {artist}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(begun.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let background_writes = load.await.unwrap();

    // The agency dashboard of the agency with every booking.
    let mut dashboard = Vec::with_capacity(samples);
    let mut upcoming = 0;
    for _ in 0..samples {
        let begun = Instant::now();
        let response = app
            .get("/api/v1/dashboards/agency")
            .bearer_auth(&token)
            .header("x-org", AGENCY_ORG.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        dashboard.push(begun.elapsed());
        upcoming = body["upcoming_bookings"].as_array().unwrap().len();
    }

    println!(
        "{}",
        json!({
            "benchmark": "marketplace",
            "artists": artists,
            "windows": artists * windows,
            "holds": holds,
            "bookings": bookings,
            "generate_s": (generate_s * 10.0).round() / 10.0,
            "rebuild_s": rebuild,
            "marketplace": {
                "query": "misspelled name + parent genre + country + max_fee + 30-day window",
                "http": percentiles(http),
                "in_process_sql": percentiles(direct),
                "found_the_artist": found,
            },
            "refresh_lag": {
                "write": "POST an availability window over HTTP until the artist's search row is rewritten",
                "background_writes_per_s": background,
                "background_writes": background_writes,
                "lag": percentiles(lags),
            },
            "agency_dashboard": {
                "bookings": bookings,
                "http": percentiles(dashboard),
                "upcoming_shown": upcoming,
            },
        })
    );
}

/// Whether the artist's search row was rewritten after `at` (the refresh
/// transaction starts after the write committed).
async fn refreshed_after(pool: &sqlx::PgPool, artist: Uuid, at: chrono::DateTime<Utc>) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM artist_search WHERE artist_id = $1 AND refreshed_at > $2)",
    )
    .bind(artist)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

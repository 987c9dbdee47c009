//! Touring benchmark, over HTTP against the real API: an agency whose
//! artist has a `STOPS`-stop tour (shows from confirmed bookings, with a
//! day off every seventh day) across European cities, and `OTHERS` other
//! confirmed bookings of the artist outside the tour, every one with a
//! radius clause, within a year of it. The tour's days carry `ITEMS`
//! itinerary items each. Then, `SAMPLES` times each (p50/p95):
//! - `GET /api/v1/tours/{id}/routing` (legs, days off, every warning);
//! - `GET /api/v1/tours/{id}/itinerary.ics` (the calendar feed), with its size.
//!
//! Run: `./deploy/bench.sh touring` (release build). Knobs: `STOPS` (60),
//! `OTHERS` (500), `ITEMS` (4), `SAMPLES` (200).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use futures::StreamExt;
use kisum_tests::{BookingParties, Org, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    ms(samples[i])
}

async fn ok(app: &TestApp, org: &Org, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = org.send(app, method, path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

/// A confirmed booking of the artist on `date` in `city`.
async fn booking(
    app: &TestApp,
    p: &BookingParties,
    date: NaiveDate,
    city: i64,
    radius: Option<Value>,
) -> String {
    let mut deal = json!({"type": "flat", "currency": "EUR", "guarantee_amount": 800_000});
    if let Some(radius) = radius {
        deal["radius"] = radius;
    }
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": date,
        "venue": {"name": "Hall", "city_id": city, "capacity": 2000}, "deal": deal,
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    });
    kisum_tests::confirmed_booking(app, p, offer).await
}

fn main() {
    let runtime = api::runtime().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let stops = env_num("STOPS", 60);
    let others = env_num("OTHERS", 500);
    let items = env_num("ITEMS", 4);
    let samples = env_num("SAMPLES", 200);
    let app = TestApp::builder()
        .env("DATABASE_MAX_CONNECTIONS", "40")
        .env("RATE_LIMIT_PER_MINUTE", "10000000")
        .spawn()
        .await;
    let p = kisum_tests::booking_parties(&app, "Bench Agency", "Bench Artist", &[]).await;
    // The 150 largest cities of twelve European countries.
    let cities: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM cities WHERE country_code IN ('NL','BE','DE','FR','IT','ES','AT','CH','DK','PL','CZ','GB')
          ORDER BY population DESC, id LIMIT 150",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let city = |n: usize| cities[(n * 37) % cities.len()].0;
    let start = Utc::now().date_naive() + chrono::Duration::days(400);
    let started = Instant::now();

    // Other bookings, a year either side of the tour, each with a clause.
    let outside: Vec<String> = futures::stream::iter(0..others)
        .map(|n| {
            let offset = if n % 2 == 0 {
                -(1 + (n / 2) as i64 % 330)
            } else {
                stops as i64 + 1 + (n / 2) as i64 % 330
            };
            let date = start + chrono::Duration::days(offset);
            let radius = json!({"km": 50 + (n % 4) * 50, "days_before": 30, "days_after": 14});
            let app = &app;
            let p = &p;
            async move { booking(app, p, date, city(n + 7), Some(radius)).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(outside.len(), others);

    let tour = ok(
        &app,
        &p.agency,
        Method::POST,
        "/api/v1/tours",
        Some(json!({"artist_id": p.artist, "company_id": p.agency_company, "name": "Bench tour"})),
    )
    .await;
    let tour = tour["id"].as_str().unwrap().to_owned();
    let shows: Vec<(usize, String)> = futures::stream::iter((0..stops).filter(|n| n % 7 != 6))
        .map(|n| {
            let app = &app;
            let p = &p;
            async move {
                let date = start + chrono::Duration::days(n as i64);
                (n, booking(app, p, date, city(n), None).await)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut shows = shows;
    shows.sort();
    let stops_path = format!("/api/v1/tours/{tour}/stops");
    let mut show_at = shows.iter().peekable();
    for n in 0..stops {
        let body = match show_at.peek() {
            Some((m, id)) if *m == n => {
                let body = json!({"kind": "show", "booking_id": id});
                show_at.next();
                body
            }
            _ => json!({"kind": "day_off", "date": start + chrono::Duration::days(n as i64),
                        "city_id": city(n)}),
        };
        ok(&app, &p.agency, Method::POST, &stops_path, Some(body)).await;
    }
    let itinerary = format!("/api/v1/tours/{tour}/itinerary");
    let kinds = [
        "load_in",
        "soundcheck",
        "doors",
        "set",
        "curfew",
        "hotel",
        "press",
        "other",
    ];
    for n in 0..stops {
        let date = start + chrono::Duration::days(n as i64);
        for i in 0..items {
            let hour = 12 + i * 2;
            let body = json!({
                "kind": kinds[i % kinds.len()], "title": format!("Item {i}"),
                "starts_at_local": format!("{date}T{hour:02}:00:00"),
                "ends_at_local": format!("{date}T{hour:02}:45:00"),
                "precision": "exact", "visibility": if i % 2 == 0 { "shared" } else { "artist_side" },
                "notes": "Call the production manager on arrival; parking behind the venue, dock B.",
            });
            ok(&app, &p.agency, Method::POST, &itinerary, Some(body)).await;
        }
    }
    let setup_s = started.elapsed().as_secs_f64();

    let routing_path = format!("/api/v1/tours/{tour}/routing");
    let routing = ok(&app, &p.agency, Method::GET, &routing_path, None).await;
    let warnings = routing["warnings"].as_array().unwrap().len();
    let legs = routing["legs"].as_array().unwrap().len();
    let mut routing_times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let response = p
            .agency
            .req(&app, Method::GET, &routing_path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        routing_times.push(t.elapsed());
    }

    let feed_path = format!("/api/v1/tours/{tour}/itinerary.ics");
    let mut feed_times = Vec::with_capacity(samples);
    let mut feed_bytes = 0;
    for _ in 0..samples {
        let t = Instant::now();
        let response = p
            .agency
            .req(&app, Method::GET, &feed_path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        feed_bytes = response.bytes().await.unwrap().len();
        feed_times.push(t.elapsed());
    }

    println!(
        "{}",
        json!({
            "benchmark": "touring",
            "stops": stops,
            "other_bookings_with_radius_clauses": others,
            "itinerary_items": stops * items,
            "setup_s": (setup_s * 10.0).round() / 10.0,
            "routing": {
                "legs": legs,
                "warnings": warnings,
                "p50_ms": percentile(&mut routing_times, 0.5),
                "p95_ms": percentile(&mut routing_times, 0.95),
            },
            "feed": {
                "bytes": feed_bytes,
                "p50_ms": percentile(&mut feed_times, 0.5),
                "p95_ms": percentile(&mut feed_times, 0.95),
            },
        })
    );
}

//! List benchmark: one agency and one promoter with 5,000 booking requests,
//! offers (with versions), holds and bookings between them; then, over HTTP
//! against the real API, for a page of 200 of each list as the agency:
//! - p50/p95 latency over `SAMPLES` pages;
//! - the statements one page costs the database, read from
//!   `pg_stat_database.xact_commit` (a list runs outside a transaction, so
//!   each statement commits once; the counter is read after the server has
//!   flushed its statistics).
//!
//! Run: `./deploy/bench.sh lists` (release build). Knobs: `ROWS` (5000),
//! `SAMPLES` (100), `STATEMENTS` (true; false skips the statement counts,
//! which wait 11 s per list for the statistics flush).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use kisum_tests::{TestApp, TestDb, Token};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const AGENCY: Uuid = Uuid::from_u128(0x0bec_1000_0000_7000_8000_0000_0000_0a01);
const PROMOTER: Uuid = Uuid::from_u128(0x0bec_1000_0000_7000_8000_0000_0000_0b01);
const AGENCY_ORG: Uuid = Uuid::from_u128(0x0bec_1000_0000_7000_8000_0000_0000_0c01);
const PROMOTER_ORG: Uuid = Uuid::from_u128(0x0bec_1000_0000_7000_8000_0000_0000_0c02);
const ARTIST_BASE: u128 = 0x0bec_1000_0000_7000_8000_0000_0000_0000;

fn env_num(key: &str, default: i64) -> i64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

async fn generate(pool: &PgPool, rows: i64) {
    let artists = (rows / 50).max(1);
    shared::demo::generate_artists(pool, ARTIST_BASE, 0, artists, None)
        .await
        .unwrap();
    let deal = r#"{"type":"flat","currency":"EUR","guarantee_amount":100000}"#;
    exec(pool, &format!(
        "INSERT INTO companies (id, kind, name, claimed) VALUES ('{AGENCY}', 'agency', 'List Agency', true), ('{PROMOTER}', 'promoter', 'List Promoter', true);
         INSERT INTO artists_company_claims (id, company_id, org_id, status, requested_by)
              VALUES (gen_random_uuid(), '{AGENCY}', '{AGENCY_ORG}', 'approved', 'bench'),
                     (gen_random_uuid(), '{PROMOTER}', '{PROMOTER_ORG}', 'approved', 'bench');
         INSERT INTO roster_links (id, company_id, artist_id, role, worldwide, created_by)
              SELECT gen_random_uuid(), '{AGENCY}', id, 'booking', true, 'bench' FROM artists;
         CREATE TEMP TABLE a AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM artists;
         INSERT INTO booking_requests (id, artist_id, promoter_company_id, agency_company_id, event_date, venue, status, expires_at, created_by)
              SELECT gen_random_uuid(), a.id, '{PROMOTER}', '{AGENCY}', current_date + (1 + i % 300)::int,
                     '{{\"name\": \"Hall\", \"capacity\": 800}}', 'open', now() + interval '10 days', 'bench'
                FROM generate_series(0, {rows} - 1) AS i JOIN a ON a.n = i % {artists};
         WITH o AS (
           INSERT INTO offers (id, artist_id, promoter_company_id, agency_company_id, event_date, status, written_by_side, expires_at, created_by)
           SELECT gen_random_uuid(), a.id, '{PROMOTER}', '{AGENCY}', current_date + (1 + i % 300)::int, 'sent', 'agency',
                  now() + interval '10 days', 'bench'
             FROM generate_series(0, {rows} - 1) AS i JOIN a ON a.n = i % {artists}
           RETURNING id, artist_id, event_date)
         INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
              SELECT id, 1, '{deal}', 'agency', 'bench' FROM o;
         INSERT INTO holds (id, artist_id, hold_date, agency_company_id, promoter_company_id, priority, status, expires_at, created_by)
              SELECT gen_random_uuid(), a.id, current_date + (1 + i / {artists})::int, '{AGENCY}', '{PROMOTER}', 1, 'active',
                     now() + interval '10 days', 'bench'
                FROM generate_series(0, {rows} - 1) AS i JOIN a ON a.n = i % {artists};
         WITH o AS (
           INSERT INTO offers (id, artist_id, promoter_company_id, agency_company_id, event_date, status, written_by_side, expires_at, created_by)
           SELECT gen_random_uuid(), a.id, '{PROMOTER}', '{AGENCY}', current_date + (400 + i / {artists})::int, 'accepted', 'promoter',
                  now() + interval '10 days', 'bench'
             FROM generate_series(0, {rows} - 1) AS i JOIN a ON a.n = i % {artists}
           RETURNING id, artist_id, event_date),
         v AS (INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
               SELECT id, 1, '{deal}', 'promoter', 'bench' FROM o)
         INSERT INTO bookings (id, offer_id, artist_id, agency_company_id, promoter_company_id, event_date, deal, status, created_by)
              SELECT gen_random_uuid(), id, artist_id, '{AGENCY}', '{PROMOTER}', event_date, '{deal}', 'confirmed', 'bench' FROM o;
         ANALYZE;"
    ))
    .await;
}

/// Statements committed in the database so far, once the server flushed
/// what its backends counted (idle backends flush within 10 s).
async fn commits(pool: &PgPool) -> i64 {
    tokio::time::sleep(Duration::from_secs(11)).await;
    sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::main]
async fn main() {
    let rows = env_num("ROWS", 5000);
    let samples = env_num("SAMPLES", 100) as usize;
    let count_statements = std::env::var("STATEMENTS").map_or(true, |v| v != "false");
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    generate(&pool, rows).await;
    let observer = db.pool().await;
    let app = TestApp::builder().database(db).spawn().await;
    let token = Token::user("bench")
        .org(AGENCY_ORG, "owner")
        .claim("exp", json!(chrono::Utc::now().timestamp() + 86_400))
        .hs256();
    let get = |path: String| {
        app.get(&path)
            .bearer_auth(&token)
            .header("x-org", AGENCY_ORG.to_string())
            .send()
    };
    let mut report = serde_json::Map::new();
    for list in ["booking-requests", "offers", "holds", "bookings"] {
        let path = format!("/api/v1/{list}?limit=200");
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let begun = Instant::now();
            let response = get(path.clone()).await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let body: Value = response.json().await.unwrap();
            times.push(begun.elapsed());
            assert_eq!(body["items"].as_array().unwrap().len(), 200, "{path}");
        }
        times.sort();
        let p = |q: f64| ms(times[((times.len() as f64 - 1.0) * q).round() as usize]);
        let mut entry = json!({"p50_ms": p(0.5), "p95_ms": p(0.95)});
        if count_statements {
            // The observer's own reads commit too: one per `commits` call.
            let before = commits(&observer).await;
            get(path.clone()).await.unwrap().bytes().await.unwrap();
            let after = commits(&observer).await;
            entry["statements_per_page"] = json!(after - before - 1);
        }
        report.insert(list.to_owned(), entry);
    }
    println!(
        "{}",
        json!({"benchmark": "lists", "rows_per_list": rows, "page": 200, "samples": samples, "lists": report})
    );
}

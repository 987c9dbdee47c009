//! Personal data benchmark, over HTTP against the real API: an agency with
//! `PEOPLE` contact cards (each note naming the next person) and `NOTES`
//! relationship notes naming them, written straight into Postgres. Then,
//! for `SAMPLES` different subjects (each on their card, a colleague's
//! note and a relationship note):
//! - the export (`GET /internal/privacy/subjects?email=`): p50/p95;
//! - the erasure (`POST /internal/privacy/erasures`): p50/p95;
//! - the floor beside them, in the same run: one pass of Postgres over
//!   every column the export reads, with the same patterns (what any
//!   search without a text index costs here), p50.
//!
//! Run: `./deploy/bench.sh privacy` (release build). Knobs: `PEOPLE`
//! (200000), `NOTES` (100000), `SAMPLES` (20).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use kisum_tests::{TestApp, internal_call};
use reqwest::Method;
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    (samples[i].as_secs_f64() * 100_000.0).round() / 100.0
}

#[tokio::main]
async fn main() {
    let people = env_num("PEOPLE", 200_000);
    let notes = env_num("NOTES", 100_000);
    let samples = env_num("SAMPLES", 20);
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Privacy Bench Agency", "Privacy Bench", &[]).await;
    let mut conn = PgConnection::connect(&app.db.url).await.unwrap();
    eprintln!("[bench_privacy] {people} contact cards, {notes} relationship notes");
    sqlx::query(
        "INSERT INTO people (id, company_id, name, email, phone, notes)
         SELECT gen_random_uuid(), $1::uuid, 'Person ' || i, 'person' || i || '@example.org',
                '+31 6 ' || lpad(i::text, 8, '0'), 'Backs up Person ' || (i + 1) || ' on tour days'
           FROM generate_series(1, $2::int) i",
    )
    .bind(&p.agency_company)
    .bind(i32::try_from(people).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO relationship_notes (id, org_id, counterparty_id, body, created_by)
         SELECT gen_random_uuid(), gen_random_uuid(), $1::uuid,
                'Called Person ' || (i * 2) || ' about the rider', 'bench'
           FROM generate_series(1, $2::int) i",
    )
    .bind(&p.promoter_company)
    .bind(i32::try_from(notes).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .unwrap();

    // Subjects spread over the cards, each on three records.
    let subjects: Vec<usize> = (1..=samples)
        .map(|k| k * (notes / samples).max(1) * 2)
        .collect();
    let mut exports = Vec::new();
    let mut records = 0;
    for &i in &subjects {
        let started = Instant::now();
        let (status, export) = internal_call(
            &app,
            Method::GET,
            &format!("/internal/privacy/subjects?email=person{i}@example.org"),
            None,
        )
        .await;
        exports.push(started.elapsed());
        assert_eq!(status, 200, "{export}");
        records = export["records"].as_array().unwrap().len();
    }

    // The floor: one pass over every searched column, same patterns.
    let locations: Vec<(&str, &str)> = shared::privacy::map::PERSONAL_DATA
        .iter()
        .filter(|l| l.category == shared::privacy::map::Category::FreeText && l.fields.is_none())
        .map(|l| (l.table, l.column))
        .chain([
            ("booking_logistics", "sheet::text"),
            ("logistics_proposals", "content::text"),
            ("booking_activity", "details::text"),
            ("contract_audit_personal", "value::text"),
        ])
        .collect();
    let mut floors = Vec::new();
    for &i in &subjects {
        let patterns = vec![
            format!("%person{i}@example.org%"),
            format!("%Person {i}%"),
            format!("%+31 6 {i:08}%"),
        ];
        let started = Instant::now();
        for (table, column) in &locations {
            let sql = format!("SELECT count(*) FROM {table} WHERE {column} ILIKE ANY($1)");
            let _: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(&patterns)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        }
        floors.push(started.elapsed());
    }

    let mut erasures = Vec::new();
    for &i in &subjects {
        let body = json!({"email": format!("person{i}@example.org"), "reason": "bench"});
        let started = Instant::now();
        let (status, erasure) = internal_call(
            &app,
            Method::POST,
            "/internal/privacy/erasures",
            Some(&body),
        )
        .await;
        erasures.push(started.elapsed());
        assert_eq!(status, 201, "{erasure}");
    }

    let report = json!({
        "bench": "privacy",
        "people": people,
        "relationship_notes": notes,
        "samples": samples,
        "records_per_subject": records,
        "export_ms": {"p50": percentile(&mut exports, 0.5), "p95": percentile(&mut exports, 0.95)},
        "erasure_ms": {"p50": percentile(&mut erasures, 0.5), "p95": percentile(&mut erasures, 0.95)},
        "floor_one_scan_of_searched_columns_ms": {"p50": percentile(&mut floors, 0.5)},
        "searched_columns": locations.len(),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

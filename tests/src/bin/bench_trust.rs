//! Trust benchmark: `COMPANIES` companies (half agencies with one artist
//! each, half promoters) and `BOOKINGS` bookings between them over the
//! last two years and the next months (completed, cancelled by either
//! side, confirmed), a rating from each side of half the completed ones,
//! and a Finance-reported deposit for a quarter of them. Then:
//! - the nightly sweep, as the worker runs it (`refresh::sweep_batch`, 500
//!   companies per transaction, on one connection): total time, per-batch
//!   p50/p95 (how long a batch holds its rows) and the database load it
//!   caused, read from `pg_stat_database` after the connection flushed its
//!   statistics (rows read, blocks hit and read, rows written, temp bytes);
//! - the incremental path: `DIRTY` companies marked, then drained as the
//!   `trust_score` job does (100 per transaction): companies per second.
//!
//! Run: `./deploy/bench.sh trust` (release build). Knobs: `COMPANIES`
//! (10000), `BOOKINGS` (200000), `DIRTY` (1000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use kisum_tests::TestDb;
use serde_json::{Value, json};
use shared::domain::relationships::refresh;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const ARTIST_BASE: u128 = 0x0bec_7000_0000_7000_8000_0000_0000_0000;

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

async fn generate(pool: &PgPool, companies: i64, bookings: i64) {
    let agencies = companies / 2;
    shared::demo::generate_artists(pool, ARTIST_BASE, 0, agencies, None)
        .await
        .unwrap();
    let per_artist = (bookings / agencies).max(1);
    // Spread each artist's shows over 700 days back and 90 ahead.
    let step = (790 / per_artist).max(1);
    let deal = r#"{"type":"flat","currency":"EUR","guarantee_amount":100000}"#;
    exec(pool, &format!(
        "CREATE TEMP TABLE ag AS
              SELECT gen_random_uuid() AS id, row_number() OVER (ORDER BY a.id) - 1 AS n, a.id AS artist_id
                FROM artists a;
         CREATE TEMP TABLE pr AS
              SELECT gen_random_uuid() AS id, n FROM generate_series(0, {companies} - {agencies} - 1) AS n;
         INSERT INTO companies (id, kind, name, claimed)
              SELECT id, 'agency', 'Agency ' || n, true FROM ag
              UNION ALL SELECT id, 'promoter', 'Promoter ' || n, true FROM pr;
         CREATE TEMP TABLE b AS
              SELECT gen_random_uuid() AS id, gen_random_uuid() AS offer_id, ag.artist_id, ag.id AS agency,
                     pr.id AS promoter, current_date - 700 + (i / {agencies})::int * {step} AS event_date, i
                FROM generate_series(0, {bookings} - 1) AS i
                JOIN ag ON ag.n = i % {agencies}
                JOIN pr ON pr.n = (i * 7919 + (i / {agencies}) * 13) % ({companies} - {agencies});
         INSERT INTO offers (id, artist_id, promoter_company_id, agency_company_id, event_date, status, written_by_side,
                             expires_at, created_by, created_at, updated_at)
              SELECT offer_id, artist_id, promoter, agency, event_date, 'accepted', 'promoter', now() + interval '10 days',
                     'bench', event_date - 90, event_date - 80
                FROM b;
         INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
              SELECT offer_id, 1, '{deal}', 'promoter', 'bench' FROM b;
         INSERT INTO bookings (id, offer_id, artist_id, agency_company_id, promoter_company_id, event_date, deal, status,
                               cancelled_by, ended_at, created_by, created_at, updated_at)
              SELECT id, offer_id, artist_id, agency, promoter, event_date, '{deal}',
                     CASE WHEN event_date > current_date THEN 'confirmed' WHEN i % 10 = 3 THEN 'cancelled' ELSE 'completed' END,
                     CASE WHEN event_date > current_date OR i % 10 <> 3 THEN NULL WHEN i % 20 = 3 THEN 'agency' ELSE 'promoter' END,
                     CASE WHEN event_date > current_date THEN NULL
                          WHEN i % 10 = 3 THEN (event_date - (i % 60)::int)::timestamptz
                          ELSE (event_date + 1)::timestamptz END,
                     'bench', event_date - 80, now()
                FROM b;
         INSERT INTO booking_ratings (id, booking_id, rater_side, rater_company_id, ratee_company_id, overall, org_id,
                                      created_by, created_at)
              SELECT gen_random_uuid(), id, s.side,
                     CASE s.side WHEN 'agency' THEN agency ELSE promoter END,
                     CASE s.side WHEN 'agency' THEN promoter ELSE agency END,
                     1 + (i * 31 + length(s.side)) % 5, gen_random_uuid(), 'bench', (event_date + 2)::timestamptz
                FROM b CROSS JOIN (VALUES ('agency'), ('promoter')) AS s (side)
               WHERE event_date <= current_date AND i % 10 <> 3 AND i % 2 = 0;
         INSERT INTO booking_finance (booking_id, deposit_status, deposit_amount, deposit_currency, deposit_due_date,
                                      deposit_changed_at)
              SELECT id, CASE WHEN i % 8 = 1 THEN 'overdue' ELSE 'paid' END, 20000, 'EUR', event_date - 30,
                     (event_date - 31 + (i % 8 = 5)::int * 5)::timestamptz
                FROM b WHERE i % 4 = 1 AND event_date <= current_date;
         ANALYZE;"
    ))
    .await;
}

/// The database's counters, after `conn` has flushed its statistics.
async fn counters(conn: &mut PgConnection, observer: &PgPool, db: &str) -> Value {
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut c = observer.acquire().await.unwrap();
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT json_build_object(
                 'xact_commit', xact_commit, 'tup_returned', tup_returned, 'tup_fetched', tup_fetched,
                 'tup_inserted', tup_inserted, 'tup_updated', tup_updated, 'tup_deleted', tup_deleted,
                 'blks_hit', blks_hit, 'blks_read', blks_read, 'temp_bytes', temp_bytes)
            FROM pg_stat_database WHERE datname = $1",
    )
    .bind(db)
    .fetch_one(&mut *c)
    .await
    .unwrap()
}

fn delta(before: &Value, after: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in after.as_object().unwrap() {
        out.insert(
            k.clone(),
            json!(v.as_i64().unwrap() - before[k].as_i64().unwrap()),
        );
    }
    Value::Object(out)
}

#[tokio::main]
async fn main() {
    let companies = env_num("COMPANIES", 10_000);
    let bookings = env_num("BOOKINGS", 200_000);
    let dirty = env_num("DIRTY", 1000);
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let started = Instant::now();
    generate(&pool, companies, bookings).await;
    let generated = started.elapsed();
    let observer = db.pool().await;
    let mut conn = pool.acquire().await.unwrap();

    // The nightly sweep.
    let before = counters(&mut conn, &observer, &db.name).await;
    let now = Utc::now();
    let mut after = None;
    let mut batches = Vec::new();
    let sweep = Instant::now();
    loop {
        let begun = Instant::now();
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        let batch = refresh::sweep_batch(&mut tx, after, 500, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        match batch.last() {
            Some(id) => {
                after = Some(*id);
                batches.push(begun.elapsed());
            }
            None => break,
        }
    }
    let swept = sweep.elapsed();
    let load = delta(&before, &counters(&mut conn, &observer, &db.name).await);
    batches.sort();
    let p = |q: f64| ms(batches[((batches.len() as f64 - 1.0) * q).round() as usize]);
    let (scored, insufficient, relationships): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE score IS NOT NULL), count(*) FILTER (WHERE score IS NULL),
                (SELECT count(*) FROM relationships)
           FROM trust_scores",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let bands: Value = sqlx::query_scalar(
        "SELECT json_object_agg(band, n) FROM (SELECT band, count(*) AS n FROM trust_scores GROUP BY band) b",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    // The incremental path: marks, then the job's drain loop.
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM companies ORDER BY random() LIMIT $1")
        .bind(dirty)
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    for chunk in ids.chunks(2) {
        shared::domain::changes::mark_trust(&mut tx, chunk)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let drain = Instant::now();
    let mut drained = 0;
    loop {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        let batch = refresh::drain(&mut tx, 100).await.unwrap();
        if batch.is_empty() {
            break;
        }
        refresh::refresh(&mut tx, &batch, Utc::now()).await.unwrap();
        tx.commit().await.unwrap();
        drained += batch.len();
    }
    let drain_time = drain.elapsed();
    assert_eq!(drained, ids.len());

    println!(
        "{}",
        json!({
            "benchmark": "trust",
            "companies": companies,
            "bookings": bookings,
            "generate_s": (generated.as_secs_f64() * 10.0).round() / 10.0,
            "sweep": {
                "seconds": (swept.as_secs_f64() * 100.0).round() / 100.0,
                "companies_per_s": (companies as f64 / swept.as_secs_f64()).round(),
                "batches": batches.len(),
                "batch_p50_ms": p(0.5),
                "batch_p95_ms": p(0.95),
                "database": load,
                "scored": scored,
                "insufficient_history": insufficient,
                "bands": bands,
                "relationship_rows": relationships,
            },
            "incremental": {
                "companies": drained,
                "seconds": (drain_time.as_secs_f64() * 100.0).round() / 100.0,
                "companies_per_s": (drained as f64 / drain_time.as_secs_f64()).round(),
            },
        })
    );
}

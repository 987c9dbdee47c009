//! Contract benchmark, over HTTP against the real API: one agency and one
//! promoter with `CONTRACTS` confirmed bookings, each with a contract made
//! from the starter performance agreement and sent for signature. Then:
//! - the PDF of a contract rendered for the first time (each a different
//!   contract: p50/p95), and served again from storage (p50/p95 over
//!   `SAMPLES` requests), with the document's page count and size;
//! - the renderer alone, in process (the same document, p50);
//! - signatures per second under `CLIENTS` concurrent clients, each signing
//!   a contract's promoter line then its agency line (the last one seals).
//!
//! Run: `./deploy/bench.sh contracts` (release build). Knobs: `CONTRACTS`
//! (400), `RENDERS` (50), `SAMPLES` (200), `CLIENTS` (16).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
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

/// A confirmed booking on day `n` from now, and its sent contract.
async fn sent_contract(app: &TestApp, p: &BookingParties, template: &str, n: usize) -> Value {
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": Utc::now().date_naive() + chrono::Duration::days(30 + n as i64),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": {"type": "versus", "currency": "EUR", "guarantee_amount": 1_250_000,
                 "percentage": 85.0, "percentage_basis": "net", "deposit_percent": 50.0,
                 "deposit_due_date": Utc::now().date_naive() + chrono::Duration::days(20),
                 "set_length_minutes": 90, "radius": {"km": 100, "days_before": 30, "days_after": 14},
                 "hospitality": "Catering for 8", "travel": "Two flights", "accommodation": "Three rooms"},
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    });
    let offer = ok(
        app,
        &p.promoter,
        Method::POST,
        "/api/v1/offers",
        Some(offer),
    )
    .await;
    let offer = offer["id"].as_str().unwrap();
    ok(
        app,
        &p.agency,
        Method::POST,
        &format!("/api/v1/offers/{offer}/accept"),
        None,
    )
    .await;
    let booking = ok(
        app,
        &p.promoter,
        Method::POST,
        "/api/v1/bookings",
        Some(json!({"offer_id": offer})),
    )
    .await;
    let body = json!({"template_id": template, "title": format!("Show {n}"), "signers": [
        {"name": "Pia Promoter", "email": "pia@promoter.test", "party": "promoter"},
        {"name": "Aga Agent", "email": "aga@agency.test", "party": "agency"}]});
    let path = format!(
        "/api/v1/bookings/{}/contracts",
        booking["id"].as_str().unwrap()
    );
    let contract = ok(app, &p.agency, Method::POST, &path, Some(body)).await;
    let id = contract["id"].as_str().unwrap();
    ok(
        app,
        &p.agency,
        Method::POST,
        &format!("/api/v1/contracts/{id}/send"),
        None,
    )
    .await
}

fn pdf_pages(pdf: &[u8]) -> Option<u32> {
    let file = std::env::temp_dir().join(format!("kisum-bench-{}.pdf", uuid::Uuid::now_v7()));
    std::fs::write(&file, pdf).ok()?;
    let output = std::process::Command::new("pdfinfo")
        .arg(&file)
        .output()
        .ok();
    let _ = std::fs::remove_file(&file);
    String::from_utf8(output?.stdout)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").and_then(|n| n.trim().parse().ok()))
}

fn main() {
    let runtime = api::runtime().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let contracts = env_num("CONTRACTS", 400);
    let renders = env_num("RENDERS", 50).min(contracts);
    let samples = env_num("SAMPLES", 200);
    let clients = env_num("CLIENTS", 16);
    let app = TestApp::builder()
        .env("DATABASE_MAX_CONNECTIONS", "40")
        .spawn()
        .await;
    let p = kisum_tests::booking_parties(&app, "Bench Agency", "Bench Artist", &[]).await;
    let library = format!(
        "/api/v1/artists-companies/{}/contract-templates",
        p.agency_company
    );
    let template = ok(
        &app,
        &p.agency,
        Method::POST,
        &library,
        Some(json!({"name": "Performance agreement", "starter": "performance_agreement"})),
    )
    .await;
    let template = template["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let sent: Vec<Value> = futures::stream::iter(0..contracts)
        .map(|n| sent_contract(&app, &p, &template, n))
        .buffer_unordered(8)
        .collect()
        .await;
    let setup_s = started.elapsed().as_secs_f64();

    // First renders: each a different contract.
    let pdf_path = |c: &Value| {
        format!(
            "/api/v1/contracts/{}/document?format=pdf",
            c["id"].as_str().unwrap()
        )
    };
    let mut first = Vec::with_capacity(renders);
    let mut sample_pdf = Vec::new();
    for c in sent.iter().take(renders) {
        let t = Instant::now();
        let response = p
            .agency
            .req(&app, Method::GET, &pdf_path(c))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        sample_pdf = response.bytes().await.unwrap().to_vec();
        first.push(t.elapsed());
    }
    // Served from storage.
    let mut cached = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let response = p
            .agency
            .req(&app, Method::GET, &pdf_path(&sent[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        cached.push(t.elapsed());
    }
    // The renderer alone, in process.
    let (_, versions) = p
        .agency
        .get(
            &app,
            &format!(
                "/api/v1/contracts/{}/versions",
                sent[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    let body = versions[0]["body"].as_str().unwrap().to_owned();
    let doc = shared::domain::contracts::document::Document {
        title: "Show 0",
        body: &body,
        contract_id: uuid::Uuid::now_v7(),
        version: 1,
        content_sha256: sent[0]["content_sha256"].as_str().unwrap(),
        status: "out_for_signature",
        signers: &[],
    };
    let mut direct = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        shared::domain::contracts::document::pdf(&doc).unwrap();
        direct.push(t.elapsed());
    }

    // Signing: both lines of every contract, `clients` at a time.
    let queue = Arc::new(tokio::sync::Mutex::new(sent.clone()));
    let started = Instant::now();
    let workers = (0..clients).map(|_| {
        let queue = queue.clone();
        let (app, p) = (&app, &p);
        async move {
            let mut signed = 0usize;
            loop {
                let Some(c) = queue.lock().await.pop() else {
                    return signed;
                };
                let id = c["id"].as_str().unwrap();
                for (party, org) in [("promoter", &p.promoter), ("agency", &p.agency)] {
                    let signer = c["signers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|s| s["party"] == party)
                        .unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    let body = json!({"typed_name": party, "consent_statement": c["consent_statement"],
                                      "content_sha256": c["content_sha256"]});
                    let path = format!("/api/v1/contracts/{id}/signers/{signer}/sign");
                    ok(app, org, Method::POST, &path, Some(body)).await;
                    signed += 1;
                }
            }
        }
    });
    let signed: usize = futures::future::join_all(workers).await.into_iter().sum();
    let sign_s = started.elapsed().as_secs_f64();

    println!(
        "{}",
        json!({
            "benchmark": "contracts",
            "contracts": contracts,
            "setup_s": (setup_s * 10.0).round() / 10.0,
            "pdf_pages": pdf_pages(&sample_pdf),
            "pdf_bytes": sample_pdf.len(),
            "first_render_ms": {"p50": percentile(&mut first, 0.5), "p95": percentile(&mut first, 0.95), "n": renders},
            "cached_ms": {"p50": percentile(&mut cached, 0.5), "p95": percentile(&mut cached, 0.95), "n": samples},
            "renderer_alone_ms_p50": percentile(&mut direct, 0.5),
            "signatures": signed,
            "clients": clients,
            "signatures_per_s": (signed as f64 / sign_s).round(),
        })
    );
}

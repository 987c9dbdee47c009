//! The ops dashboard in a real browser: Debian's Chromium, driven by
//! `tests/browser/ops-dashboard.mjs` (playwright-core), signs in with the
//! key, retries a dead job and watches it finish, and enables the Finance
//! endpoint a 410 disabled, against the real API and the real worker; then
//! opens the API docs and sees Swagger UI list the operations. Both pages
//! must carry their Content-Security-Policy and report no violation of it.
//! Also the change feed from a browser page of an allowed origin
//! (`tests/browser/change-feed.mjs`): an `EventSource` sees the other
//! party's counter-offer, and resumes with `Last-Event-ID` after the server
//! ends the stream, without gap or duplicate.
//! `./deploy/dev.sh test` installs Chromium and the script's packages;
//! without them this test fails rather than passing unseen.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kisum_tests::{INTERNAL_KEY, TestApp, WorkerProcess, dead_job, internal_call};
use reqwest::Method;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// Node, the script's packages and Chromium are there, or the test fails
/// saying how to get them.
fn require_browser_tools(browser_dir: &Path) {
    let hint = "run `./deploy/dev.sh test`, which installs them (Debian's chromium, `npm ci` in tests/browser)";
    kisum_tests::require_node_packages("the browser test", browser_dir, &["playwright-core"], hint);
    assert!(
        Path::new(CHROMIUM).exists(),
        "the browser test needs {CHROMIUM}: {hint}"
    );
}

async fn call(app: &TestApp, method: Method, path: &str) -> (u16, Value) {
    internal_call(app, method, path, None).await
}

#[tokio::test]
async fn an_operator_retries_a_dead_job_from_the_dashboard_in_a_browser() {
    let root = workspace_root();
    let browser_dir = root.join("tests/browser");
    require_browser_tools(&browser_dir);

    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let (status, canary) = internal_call(
        &app,
        Method::POST,
        "/internal/ops/canaries",
        Some(&json!({"fail_attempts": 5})),
    )
    .await;
    assert_eq!(status, 201, "{canary}");
    let dead = dead_job(&app, "queue_canary").await;
    // What a 410 from Finance leaves (the worker's 410 path has its own test).
    sqlx::query(
        "UPDATE finance_endpoint SET disabled_at = now(), disabled_reason = 'Finance answered 410 Gone'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let id = dead["id"].as_str().unwrap().to_owned();

    let artifacts = root.join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("ops-dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let started = Instant::now();
    let run = tokio::process::Command::new("node")
        .arg(browser_dir.join("ops-dashboard.mjs"))
        .current_dir(&browser_dir)
        .env("BASE_URL", &app.base)
        .env("OPS_KEY", INTERNAL_KEY)
        .env("SCREENSHOT", &screenshot)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser script ends within 3 minutes")
        .expect("node starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser script failed ({}) after {:.1} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        started.elapsed().as_secs_f64()
    );
    // Shown with --nocapture: the script's steps and timings.
    println!(
        "browser script: {:.1} s\n{stdout}{stderr}",
        started.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&screenshot)
        .map(|m| m.len())
        .unwrap_or_default();
    assert!(
        size > 0,
        "a screenshot at {}\n--- stdout\n{stdout}",
        screenshot.display()
    );

    // What the browser saw is what the database holds.
    let (_, job) = call(&app, Method::GET, &format!("/internal/ops/jobs/{id}")).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["audit"][0]["action"], "retry", "{job}");
    assert_eq!(job["audit"][0]["actor"], "ops-session", "{job}");
    let completions: i32 =
        sqlx::query_scalar("SELECT completions FROM queue_canaries WHERE id = $1::uuid")
            .bind(canary["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(completions, 1, "the canary completed once");
    let (_, endpoint) = call(&app, Method::GET, "/internal/ops/finance-endpoint").await;
    assert!(endpoint["disabled_at"].is_null(), "{endpoint}");
}

#[tokio::test]
async fn a_browser_event_source_follows_the_feed_and_resumes_without_gaps() {
    let root = workspace_root();
    let browser_dir = root.join("tests/browser");
    require_browser_tools(&browser_dir);
    let page_port = kisum_tests::processes::free_port();
    let origin = format!("http://127.0.0.1:{page_port}");
    let app = TestApp::builder().env("CORS_ORIGIN", &origin).spawn().await;
    let p = kisum_tests::booking_parties(&app, "Browser Agency", "Browser Artist", &[]).await;
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": chrono::Utc::now().date_naive() + chrono::Duration::days(70),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 500_000},
        "expires_at": chrono::Utc::now() + chrono::Duration::days(7), "send": true,
    });
    let (status, offer) = p
        .promoter
        .send(&app, Method::POST, "/api/v1/offers", Some(offer))
        .await;
    assert_eq!(status, 201, "{offer}");
    let offer = offer["id"].as_str().unwrap().to_owned();
    let counter = json!({"deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 600_000}});
    let path = format!("/api/v1/offers/{offer}/counter");
    let (status, body) = p
        .agency
        .send(&app, Method::POST, &path, Some(counter))
        .await;
    assert_eq!(status, 200, "{body}");

    let started = Instant::now();
    let run = tokio::process::Command::new("node")
        .arg(browser_dir.join("change-feed.mjs"))
        .current_dir(&browser_dir)
        .env("BASE_URL", &app.base)
        .env("PAGE_PORT", page_port.to_string())
        .env("AGENCY_TOKEN", &p.agency.token)
        .env("AGENCY_ORG", p.agency.id.to_string())
        .env("PROMOTER_TOKEN", &p.promoter.token)
        .env("PROMOTER_ORG", p.promoter.id.to_string())
        .env("OFFER_ID", &offer)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser script ends within 3 minutes")
        .expect("node starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser script failed ({}) after {:.1} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        started.elapsed().as_secs_f64()
    );
    println!(
        "browser script: {:.1} s\n{stdout}{stderr}",
        started.elapsed().as_secs_f64()
    );
}

//! SPEC 5.9 `finance_handoff`: a booking confirmed, cancelled or completed
//! is POSTed to a fake Finance through the real worker, signed per Standard
//! Webhooks (checked by the reference Python library), with one webhook id
//! over every retry; a 410 disables the endpoint until an operator enables
//! it; a hang past the timeout is a failed attempt; the last failure
//! dead-letters the job; two workers deliver each handoff once; the
//! maintenance job resumes handoffs no job would move.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use kisum_tests::fakes::{Answer, FakeWebhooks};
use kisum_tests::{BookingParties, TestApp, WorkerProcess, eventually, internal_call};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ROTATED: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn worker_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FINANCE_BASE_URL", url.to_owned()),
        ("FINANCE_WEBHOOK_SECRET", format!("{SECRET},{ROTATED}")),
        ("FINANCE_RETRY_SCHEDULE_SECONDS", "0,1,1,1,1".to_owned()),
        ("FINANCE_TIMEOUT_SECONDS", "1".to_owned()),
    ]
}

fn spawn(app: &TestApp, env: &[(&'static str, String)]) -> WorkerProcess {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    WorkerProcess::spawn(&app.db.url, &pairs)
}

async fn booking(app: &TestApp, p: &BookingParties, days: i64) -> String {
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": Utc::now().date_naive() + chrono::Duration::days(days),
        "venue": {"name": "Paradiso", "city_id": 2759794, "capacity": 1500},
        "deal": {"type": "versus", "currency": "EUR", "guarantee_amount": 1_250_000,
                 "percentage": 33.33, "percentage_basis": "net", "deposit_percent": 12.35,
                 "deposit_due_date": Utc::now().date_naive() + chrono::Duration::days(10)},
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    });
    kisum_tests::confirmed_booking(app, p, offer).await
}

/// Each delivery verified by the Python `standardwebhooks` library, once
/// with each secret (rotation: both sign every message).
async fn python_verifies(deliveries: &[kisum_tests::fakes::Delivery]) -> Vec<bool> {
    let mut input = String::new();
    for (headers, body) in deliveries {
        for secret in [SECRET, ROTATED] {
            let h: serde_json::Map<String, Value> =
                ["webhook-id", "webhook-timestamp", "webhook-signature"]
                    .iter()
                    .map(|k| {
                        let v = headers.get(*k).map(|v| v.to_str().unwrap().to_owned());
                        ((*k).to_owned(), json!(v))
                    })
                    .collect();
            let line = json!({"secret": secret, "headers": h, "body_b64": STANDARD.encode(body)});
            input.push_str(&line.to_string());
            input.push('\n');
        }
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("webhooks/verify.py");
    let mut child = tokio::process::Command::new(kisum_tests::venv_python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["ok"] == true)
        .collect()
}

async fn handoffs(app: &TestApp, p: &BookingParties, booking: &str) -> Value {
    let (status, body) = p
        .agency
        .get(app, &format!("/api/v1/bookings/{booking}/finance/handoffs"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_failing_finance_gets_the_same_message_until_it_accepts() {
    let app = TestApp::spawn().await;
    let (fake, url) = FakeWebhooks::scripted(vec![
        Answer::Status(503),
        Answer::Hang(Duration::from_secs(3)),
        Answer::Status(500),
    ])
    .await;
    let _worker = spawn(&app, &worker_env(&url));
    let p = kisum_tests::booking_parties(&app, "Handoff Agency", "Handoff Artist", &[]).await;
    let id = booking(&app, &p, 60).await;

    let delivered = eventually(
        Duration::from_secs(30),
        "the handoff is delivered",
        || async {
            let h = handoffs(&app, &p, &id).await;
            (h[0]["status"] == "delivered").then_some(h)
        },
    )
    .await;
    let handoff = &delivered[0];
    assert_eq!(handoff["event"], "booking.confirmed");
    let attempts = handoff["attempts"].as_array().unwrap();
    let codes: Vec<Value> = attempts.iter().map(|a| a["status_code"].clone()).collect();
    // 503, no answer within the 1 s timeout, 500, then 204.
    assert_eq!(
        codes,
        [json!(503), Value::Null, json!(500), json!(204)],
        "{delivered}"
    );
    assert!(attempts[1]["error"].as_str().unwrap().contains("no answer"));
    assert!(attempts[1]["duration_ms"].as_i64().unwrap() >= 900);

    let received = fake.received();
    assert_eq!(received.len(), 4);
    let ids: Vec<&str> = received
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i == handoff["webhook_id"]), "{ids:?}");
    // The same bytes every time, verified by an independent implementation
    // under both secrets.
    assert!(received.iter().all(|(_, body)| *body == received[0].1));
    assert!(python_verifies(&received).await.iter().all(|ok| *ok));
    let mut tampered = received[3].clone();
    tampered.1.push(b' ');
    assert_eq!(python_verifies(&[tampered]).await, [false, false]);

    // What Finance needs, in integers.
    let body: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert_eq!(body["type"], "booking.confirmed");
    let data = &body["data"];
    assert_eq!(data["booking_id"], id.as_str());
    assert_eq!(data["deal"]["guarantee_amount"], 1_250_000);
    assert_eq!(data["deal"]["currency"], "EUR");
    // Exact: 33.33 and 12.35 as sent, never through a float.
    assert_eq!(data["deal"]["percentage_bp"], 3333);
    assert_eq!(data["deal"]["deposit_bp"], 1235);
    assert_eq!(data["venue"]["city"], "Amsterdam");
    assert_eq!(data["agency"]["id"], p.agency_company.as_str());
    assert_eq!(data["promoter"]["id"], p.promoter_company.as_str());

    // Cancelling hands off again, under its own id.
    let (status, _) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{id}/cancel"),
            Some(json!({"reason": "flood"})),
        )
        .await;
    assert_eq!(status, 200);
    let both = eventually(
        Duration::from_secs(30),
        "the cancellation is delivered",
        || async {
            let h = handoffs(&app, &p, &id).await;
            (h.as_array().unwrap().len() == 2 && h[1]["status"] == "delivered").then_some(h)
        },
    )
    .await;
    assert_eq!(both[1]["event"], "booking.cancelled");
    assert_ne!(both[0]["webhook_id"], both[1]["webhook_id"]);

    // The audit is the parties' with artist.finance.read; 404 for others.
    let path = format!("/api/v1/bookings/{id}/finance/handoffs");
    let (status, _) = p.promoter.get(&app, &path).await;
    assert_eq!(status, 200);
    let (status, _) = kisum_tests::Org::new().get(&app, &path).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_410_disables_finance_until_an_operator_enables_it() {
    let app = TestApp::spawn().await;
    let (fake, url) = FakeWebhooks::scripted(vec![Answer::Status(410)]).await;
    let _worker = spawn(&app, &worker_env(&url));
    let p = kisum_tests::booking_parties(&app, "Gone Agency", "Gone Artist", &[]).await;
    let first = booking(&app, &p, 61).await;
    eventually(Duration::from_secs(30), "the handoff pauses", || async {
        let h = handoffs(&app, &p, &first).await;
        (h[0]["status"] == "paused").then_some(())
    })
    .await;
    let (_, endpoint) =
        internal_call(&app, Method::GET, "/internal/ops/finance-endpoint", None).await;
    assert!(endpoint["disabled_at"].is_string(), "{endpoint}");
    // While disabled, nothing more is sent: a second booking waits too.
    let second = booking(&app, &p, 62).await;
    eventually(
        Duration::from_secs(30),
        "the second handoff pauses",
        || async {
            let h = handoffs(&app, &p, &second).await;
            (h[0]["status"] == "paused").then_some(())
        },
    )
    .await;
    assert_eq!(fake.received().len(), 1);

    let (status, endpoint) = internal_call(
        &app,
        Method::POST,
        "/internal/ops/finance-endpoint/enable",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(endpoint["disabled_at"].is_null());
    for id in [&first, &second] {
        eventually(
            Duration::from_secs(30),
            "resumed handoffs are delivered",
            || async {
                let h = handoffs(&app, &p, id).await;
                (h[0]["status"] == "delivered").then_some(())
            },
        )
        .await;
    }
    assert_eq!(fake.received().len(), 3);
}

#[tokio::test]
async fn the_last_failure_dead_letters_the_job() {
    let app = TestApp::spawn().await;
    let (_fake, url) = FakeWebhooks::scripted(vec![Answer::RetryAfter(503, 1); 10]).await;
    let mut env = worker_env(&url);
    env[2].1 = "0,1".to_owned();
    let _worker = spawn(&app, &env);
    let p = kisum_tests::booking_parties(&app, "Dead Agency", "Dead Artist", &[]).await;
    let id = booking(&app, &p, 63).await;
    let dead = kisum_tests::dead_job(&app, "finance_handoff").await;
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("failed its last attempt")
            || dead.to_string().contains("failed its last attempt"),
        "{dead}"
    );
    let h = handoffs(&app, &p, &id).await;
    assert_eq!(h[0]["status"], "dead");
    assert_eq!(h[0]["attempts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn two_workers_deliver_each_handoff_once() {
    let app = TestApp::spawn().await;
    let (fake, url) = FakeWebhooks::start().await;
    let env = worker_env(&url);
    let _a = spawn(&app, &env);
    let _b = spawn(&app, &env);
    let p = kisum_tests::booking_parties(&app, "Twin Agency", "Twin Artist", &[]).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(booking(&app, &p, 70 + n).await);
    }
    eventually(
        Duration::from_secs(30),
        "every handoff is delivered",
        || async { (fake.received().len() >= ids.len()).then_some(()) },
    )
    .await;
    // Every handoff job has run to its end: a second delivery would be in.
    kisum_tests::wait_queue_drained(&app.pool, "finance_handoff").await;
    let received = fake.received();
    let mut webhook_ids: Vec<&str> = received
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    webhook_ids.sort_unstable();
    webhook_ids.dedup();
    assert_eq!(received.len(), ids.len(), "one delivery per handoff");
    assert_eq!(webhook_ids.len(), ids.len());
}

#[tokio::test]
async fn maintenance_resumes_stranded_handoffs_once() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Stranded Agency", "Stranded Artist", &[]).await;
    // Paused: made while the worker had no Finance URL.
    let paused = booking(&app, &p, 71).await;
    {
        let _no_url = WorkerProcess::spawn(&app.db.url, &[]);
        eventually(Duration::from_secs(30), "the handoff pauses", || async {
            let h = handoffs(&app, &p, &paused).await;
            (h[0]["status"] == "paused").then_some(())
        })
        .await;
    }
    // Pending with no job left: what an attempt whose job died of a
    // database error leaves, three minutes later.
    let lost = booking(&app, &p, 72).await;
    let lost_id = handoffs(&app, &p, &lost).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted =
        kisum_tests::queue::delete_about(&app.pool, "finance_handoff", "handoff_id", &lost_id)
            .await;
    assert_eq!(deleted, 1);
    sqlx::query(
        "UPDATE finance_handoffs SET updated_at = now() - interval '3 minutes' WHERE id = $1::uuid",
    )
    .bind(&lost_id)
    .execute(&app.pool)
    .await
    .unwrap();

    let (fake, url) = FakeWebhooks::start().await;
    let _worker = spawn(&app, &worker_env(&url));
    let mut conn = app.pool.acquire().await.unwrap();
    // Two ticks: the second finds nothing stranded any more.
    for tick in [1_790_000_000, 1_790_000_900] {
        shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut conn, tick)
            .await
            .unwrap();
    }
    for id in [&paused, &lost] {
        eventually(
            Duration::from_secs(30),
            "the stranded handoff is delivered",
            || async {
                let h = handoffs(&app, &p, id).await;
                (h[0]["status"] == "delivered").then_some(())
            },
        )
        .await;
    }
    eventually(Duration::from_secs(30), "both ticks ran", || async {
        let done = kisum_tests::queue::count_done(&app.pool, "maintenance").await;
        (done == 2).then_some(())
    })
    .await;
    let received = fake.received();
    assert_eq!(received.len(), 2, "one delivery per stranded handoff");
    let mut ids: Vec<_> = received
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn a_bookings_changes_reach_finance_in_order() {
    let app = TestApp::spawn().await;
    let (fake, url) = FakeWebhooks::scripted(vec![Answer::Status(503), Answer::Status(503)]).await;
    let mut env = worker_env(&url);
    env[2].1 = "0,2,2".to_owned();
    let _worker = spawn(&app, &env);
    let p = kisum_tests::booking_parties(&app, "Order Agency", "Order Artist", &[]).await;
    let id = booking(&app, &p, 64).await;
    // Cancelled while its confirmation is still being retried.
    let (status, _) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{id}/cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    eventually(
        Duration::from_secs(40),
        "both handoffs are delivered",
        || async {
            let h = handoffs(&app, &p, &id).await;
            h.as_array()
                .unwrap()
                .iter()
                .all(|x| x["status"] == "delivered")
                .then_some(())
        },
    )
    .await;
    let types: Vec<String> = fake
        .received()
        .iter()
        .map(|(_, body)| {
            serde_json::from_slice::<Value>(body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "booking.confirmed",
            "booking.confirmed",
            "booking.confirmed",
            "booking.cancelled"
        ]
    );
}

#[tokio::test]
async fn the_handoff_contract_is_in_the_openapi_webhooks() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for event in [
        "booking.confirmed",
        "booking.cancelled",
        "booking.completed",
    ] {
        let post = &doc["webhooks"][event]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/FinanceBookingEvent",
            "{event}"
        );
        let headers: Vec<&str> = post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            headers,
            ["webhook-id", "webhook-timestamp", "webhook-signature"]
        );
        assert!(post["responses"]["410"].is_object());
    }
    // Money and percentages are integers in the contract.
    let deal = &doc["components"]["schemas"]["FinanceDeal"]["properties"];
    for field in [
        "guarantee_amount",
        "percentage_bp",
        "deposit_bp",
        "ticket_price",
    ] {
        let types = deal[field]["type"].to_string();
        assert!(
            types.contains("integer") && !types.contains("number"),
            "{field}: {types}"
        );
    }
}

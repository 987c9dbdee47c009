//! Booking finance (SPEC 5.8): Finance's signed events in, deduplicated and
//! applied by their own time; what it reported out to the booking's
//! parties. Requests are signed here independently of the product's code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use kisum_tests::{BookingParties, Org, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ROTATED: &str = "whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5";
const PATH: &str = "/internal/finance/events";

fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Posts `body` as Finance would: signed with `secret`, stamped `skew`
/// from now.
async fn deliver(
    app: &TestApp,
    secret: &str,
    id: &str,
    skew: Duration,
    body: &Value,
) -> reqwest::Response {
    let body = body.to_string();
    let timestamp = (Utc::now() + skew).timestamp();
    app.internal(Method::POST, PATH)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", sign(secret, id, timestamp, &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn accepted(app: &TestApp, id: &str, body: &Value) -> Value {
    let response = deliver(app, SECRET, id, Duration::zero(), body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn event(kind: &str, booking: &str, at: chrono::DateTime<Utc>, data: Value) -> Value {
    json!({"type": kind, "booking_id": booking, "occurred_at": at, "data": data})
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

async fn booked(app: &TestApp, name: &str) -> (BookingParties, String) {
    let p = kisum_tests::booking_parties(app, &format!("{name} Agency"), name, &[]).await;
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": Utc::now().date_naive() + Duration::days(90),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 1_000_000},
        "expires_at": Utc::now() + Duration::days(7), "send": true,
    });
    let booking = kisum_tests::confirmed_booking(app, &p, offer).await;
    (p, booking)
}

async fn finance_app() -> TestApp {
    TestApp::builder()
        .env("FINANCE_EVENTS_SECRET", format!("{SECRET},{ROTATED}"))
        .spawn()
        .await
}

#[tokio::test]
async fn events_apply_once_by_their_own_time_and_both_parties_see_them() {
    let app = finance_app().await;
    let (p, booking) = booked(&app, "Ledger").await;
    let path = format!("/api/v1/bookings/{booking}/finance");

    let (status, nothing) = p.agency.get(&app, &path).await;
    assert_eq!(status, 200, "{nothing}");
    assert_eq!(nothing["deposit"]["status"], "not_reported");
    assert_eq!(nothing["invoice"]["status"], "not_reported");
    assert_eq!(nothing["settlement"]["status"], "not_reported");
    assert_eq!(nothing["deposit"]["amount"], Value::Null);
    assert_eq!(nothing["deposit_overdue"], false);

    let t1 = Utc::now() - Duration::hours(2);
    let t2 = Utc::now() - Duration::hours(1);
    let due = Utc::now().date_naive() + Duration::days(10);
    let invoiced = event(
        "deposit.invoiced",
        &booking,
        t1,
        json!({"amount": 250_000, "currency": "EUR", "due_date": due, "reference": "DEP-1"}),
    );
    let paid = event("deposit.paid", &booking, t2, json!({}));
    let receipt = accepted(&app, "msg_paid", &paid).await;
    assert_eq!(receipt["applied"], true, "{receipt}");
    assert_eq!(receipt["duplicate"], false);
    // An older event arriving later does not overwrite the newer status.
    let receipt = accepted(&app, "msg_invoiced", &invoiced).await;
    assert_eq!(receipt["applied"], false, "{receipt}");
    for org in [&p.agency, &p.promoter] {
        let (status, finance) = org.get(&app, &path).await;
        assert_eq!(status, 200, "{finance}");
        assert_eq!(finance["deposit"]["status"], "paid", "{finance}");
        assert_eq!(finance["deposit_overdue"], false);
        assert!(finance["deposit"]["changed_at"].is_string(), "{finance}");
    }

    // A signature by the rotated secret is accepted too.
    let invoice = event(
        "invoice.issued",
        &booking,
        t2,
        json!({"amount": 1_000_000, "currency": "EUR", "due_date": due, "reference": "INV-7"}),
    );
    let response = deliver(&app, ROTATED, "msg_invoice", Duration::zero(), &invoice).await;
    assert_eq!(response.status(), 200);
    let (_, finance) = p.promoter.get(&app, &path).await;
    assert_eq!(finance["invoice"]["status"], "issued");
    assert_eq!(finance["invoice"]["amount"], 1_000_000);
    assert_eq!(finance["invoice"]["currency"], "EUR");
    assert_eq!(finance["invoice"]["reference"], "INV-7");
    assert_eq!(finance["invoice"]["due_date"], due.to_string());
    assert_eq!(finance["settlement"]["status"], "not_reported");

    // A replay of a webhook-id (even with another body) changes nothing.
    let events = count(&app, "SELECT count(*) FROM finance_events").await;
    let void = event("invoice.void", &booking, Utc::now(), json!({}));
    let receipt = accepted(&app, "msg_invoice", &void).await;
    assert_eq!(receipt["duplicate"], true, "{receipt}");
    assert_eq!(receipt["applied"], true, "the first delivery's outcome");
    assert_eq!(
        count(&app, "SELECT count(*) FROM finance_events").await,
        events
    );
    let (_, again) = p.promoter.get(&app, &path).await;
    assert_eq!(again, finance);

    // What Finance reported is in the booking's activity, once per applied
    // event: not the late older one, not the replay.
    let (status, trail) = p
        .agency
        .get(&app, &format!("/api/v1/bookings/{booking}/activity"))
        .await;
    assert_eq!(status, 200, "{trail}");
    let reported: Vec<(&str, &str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["subject_type"] == "finance")
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["to_status"].as_str().unwrap(),
                a["details"]["webhook_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reported,
        [
            ("deposit.paid", "paid", "msg_paid"),
            ("invoice.issued", "issued", "msg_invoice")
        ],
        "{trail}"
    );
    // A member without artist.finance.read sees the trail without them.
    let member: Value = app
        .as_member(
            reqwest::Method::GET,
            &format!("/api/v1/bookings/{booking}/activity"),
            p.agency.id,
            "member",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown = member.as_array().unwrap();
    assert!(!shown.is_empty(), "{member}");
    assert!(
        shown.iter().all(|a| a["subject_type"] != "finance"),
        "{member}"
    );

    // Unknown type: stored, acknowledged, not applied.
    let odd = event("deposit.forgiven", &booking, Utc::now(), json!({"x": "y"}));
    let receipt = accepted(&app, "msg_odd", &odd).await;
    assert_eq!(receipt["applied"], false);
    // Unknown booking: the same, so Finance does not retry forever.
    let stray = event(
        "deposit.paid",
        &Uuid::now_v7().to_string(),
        Utc::now(),
        json!({}),
    );
    let receipt = accepted(&app, "msg_stray", &stray).await;
    assert_eq!(receipt["applied"], false);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM finance_events WHERE webhook_id IN ('msg_odd', 'msg_stray') AND NOT applied"
        )
        .await,
        2
    );
    let (_, unchanged) = p.promoter.get(&app, &path).await;
    assert_eq!(unchanged, finance);

    // An unknown currency is refused and nothing is stored.
    let bad = event(
        "settlement.drafted",
        &booking,
        Utc::now(),
        json!({"amount": 5, "currency": "XQZ"}),
    );
    let response = deliver(&app, SECRET, "msg_bad_currency", Duration::zero(), &bad).await;
    problem(response, 422, "validation_failed").await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM finance_events WHERE webhook_id = 'msg_bad_currency'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn deposit_overdue_when_finance_says_so_or_its_due_date_passed() {
    let app = finance_app().await;
    let (p, late) = booked(&app, "Late").await;
    let path = |b: &str| format!("/api/v1/bookings/{b}/finance");
    let past = Utc::now().date_naive() - Duration::days(3);
    let invoiced = event(
        "deposit.invoiced",
        &late,
        Utc::now() - Duration::days(10),
        json!({"amount": 100, "currency": "EUR", "due_date": past}),
    );
    accepted(&app, "late_1", &invoiced).await;
    let (_, finance) = p.agency.get(&app, &path(&late)).await;
    assert_eq!(finance["deposit"]["status"], "invoiced", "{finance}");
    assert_eq!(finance["deposit_overdue"], true);
    accepted(
        &app,
        "late_2",
        &event("deposit.paid", &late, Utc::now(), json!({})),
    )
    .await;
    let (_, finance) = p.agency.get(&app, &path(&late)).await;
    assert_eq!(finance["deposit_overdue"], false);
    assert_eq!(finance["deposit"]["amount"], 100, "kept from the invoice");
    accepted(
        &app,
        "late_3",
        &event(
            "deposit.overdue",
            &late,
            Utc::now() + Duration::seconds(1),
            json!({}),
        ),
    )
    .await;
    let (_, finance) = p.promoter.get(&app, &path(&late)).await;
    assert_eq!(finance["deposit"]["status"], "overdue");
    assert_eq!(finance["deposit_overdue"], true);

    // Who may read it: a third org never sees the booking; a party member
    // without `artist.finance.read` is refused.
    let (status, _) = Org::new().get(&app, &path(&late)).await;
    assert_eq!(status, 404);
    for role in ["viewer", "member"] {
        let response = app
            .as_member(Method::GET, &path(&late), p.agency.id, role)
            .send()
            .await
            .unwrap();
        problem(response, 403, "permission_denied").await;
    }
}

#[tokio::test]
async fn unverified_events_are_refused_and_change_nothing() {
    let app = finance_app().await;
    let booking = Uuid::now_v7().to_string();
    let body = event("deposit.paid", &booking, Utc::now(), json!({}));
    let text = body.to_string();
    let now = Utc::now().timestamp();
    let send = |id: &'static str, ts: Option<String>, signature: Option<String>| {
        let mut request = app
            .internal(Method::POST, PATH)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .body(text.clone());
        if let Some(ts) = ts {
            request = request.header("webhook-timestamp", ts);
        }
        if let Some(signature) = signature {
            request = request.header("webhook-signature", signature);
        }
        request.send()
    };
    let wrong = "whsec_d3JvbmctZmluYW5jZS1zZWNyZXQtMDEyMzQ1";
    let forged = send(
        "a",
        Some(now.to_string()),
        Some(sign(wrong, "a", now, &text)),
    );
    problem(forged.await.unwrap(), 401, "webhook_signature_invalid").await;
    let unsigned = send("b", Some(now.to_string()), None);
    problem(unsigned.await.unwrap(), 401, "webhook_signature_invalid").await;
    let undated = send("c", None, Some(sign(SECRET, "c", now, &text)));
    problem(undated.await.unwrap(), 401, "webhook_signature_invalid").await;
    let tampered = send(
        "d",
        Some(now.to_string()),
        Some(sign(SECRET, "d", now, "{}")),
    );
    problem(tampered.await.unwrap(), 401, "webhook_signature_invalid").await;
    for (id, minutes) in [("stale", -10), ("future", 10)] {
        let response = deliver(&app, SECRET, id, Duration::minutes(minutes), &body).await;
        problem(response, 401, "webhook_signature_invalid").await;
    }
    assert_eq!(count(&app, "SELECT count(*) FROM finance_events").await, 0);

    // Signed, but not JSON / not an event.
    let raw = "not json";
    let signed_raw = |content_type: &'static str| {
        app.internal(Method::POST, PATH)
            .header("content-type", content_type)
            .header("webhook-id", "raw")
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", sign(SECRET, "raw", now, raw))
            .body(raw)
            .send()
    };
    problem(
        signed_raw("application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    problem(
        signed_raw("text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    // NUL cannot be stored: 422, not a 500.
    let response = deliver(
        &app,
        SECRET,
        "nul",
        Duration::zero(),
        &json!({"type": "deposit.paid\u{0}", "booking_id": Uuid::now_v7(), "occurred_at": Utc::now()}),
    )
    .await;
    problem(response, 422, "invalid_body").await;
    // A timestamp far out of range is refused before the library sees it.
    let response = app
        .internal(Method::POST, PATH)
        .header("content-type", "application/json")
        .header("webhook-id", "far")
        .header("webhook-timestamp", i64::MIN.to_string())
        .header("webhook-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(response, 401, "webhook_signature_invalid").await;
    let response = deliver(&app, SECRET, "shape", Duration::zero(), &json!({"type": 1})).await;
    problem(response, 422, "invalid_body").await;
    assert_eq!(count(&app, "SELECT count(*) FROM finance_events").await, 0);

    // The machine route never opens to a user token.
    let org = Org::new();
    let response = org
        .req(&app, Method::POST, PATH)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn without_a_secret_finance_events_are_refused() {
    let app = TestApp::spawn().await;
    let body = event(
        "deposit.paid",
        &Uuid::now_v7().to_string(),
        Utc::now(),
        json!({}),
    );
    let response = deliver(&app, SECRET, "x", Duration::zero(), &body).await;
    problem(response, 503, "finance_events_disabled").await;
    assert_eq!(count(&app, "SELECT count(*) FROM finance_events").await, 0);
}

/// "When is a deposit late" is one SQL function, `kisum_deposit_overdue`:
/// the booking's finance read, the promoter dashboard and the
/// `deposit_outcomes` view (late-payment figures) agree, before and after
/// the booking is cancelled.
#[tokio::test]
async fn one_rule_decides_a_late_deposit_for_the_read_the_dashboard_and_the_figures() {
    let app = finance_app().await;
    let today = Utc::now().date_naive();
    let (past, future) = (today - Duration::days(1), today + Duration::days(1));
    for (status, due, cancelled, late) in [
        (Some("overdue"), None, false, true),
        (Some("overdue"), Some(future), true, true),
        (Some("invoiced"), Some(past), false, true),
        (None, Some(past), false, true),
        (Some("invoiced"), Some(past), true, false),
        (Some("invoiced"), Some(today), false, false),
        (Some("invoiced"), Some(future), false, false),
        (Some("invoiced"), None, false, false),
        (Some("paid"), Some(past), false, false),
        (Some("refunded"), Some(past), false, false),
        (None, None, false, false),
    ] {
        let got: bool = sqlx::query_scalar("SELECT kisum_deposit_overdue($1, $2, $3, $4)")
            .bind(status)
            .bind(due)
            .bind(cancelled)
            .bind(today)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(got, late, "{status:?} {due:?} cancelled={cancelled}");
    }

    let (p, booking) = booked(&app, "One Rule").await;
    let invoiced = event(
        "deposit.invoiced",
        &booking,
        Utc::now() - Duration::days(10),
        json!({"amount": 100, "currency": "EUR", "due_date": today - Duration::days(3)}),
    );
    accepted(&app, "one_rule_1", &invoiced).await;
    let promoter_company: Uuid = p.promoter_company.parse().unwrap();
    let seen = |app: &TestApp| {
        let pool = app.pool.clone();
        let (path, org) = (format!("/api/v1/bookings/{booking}/finance"), p.promoter.id);
        let booking = booking.clone();
        async move {
            let mut conn = pool.acquire().await.unwrap();
            shared::domain::read_models::dashboards::refresh(&mut conn, &[promoter_company])
                .await
                .unwrap();
            let board =
                shared::domain::read_models::dashboards::promoter(&mut conn, org, None, Utc::now())
                    .await
                    .unwrap();
            let on_board = board
                .deposits_overdue
                .iter()
                .any(|d| d.booking_id.to_string() == booking);
            let outcome: Option<String> = sqlx::query_scalar(
                "SELECT outcome FROM deposit_outcomes WHERE booking_id = $1::uuid",
            )
            .bind(&booking)
            .fetch_optional(&pool)
            .await
            .unwrap();
            (path, on_board, outcome)
        }
    };
    let (path, on_board, outcome) = seen(&app).await;
    let (_, finance) = p.promoter.get(&app, &path).await;
    assert_eq!(finance["deposit_overdue"], true, "{finance}");
    assert!(on_board);
    assert_eq!(outcome.as_deref(), Some("late"));

    let (status, body) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking}/cancel"),
            Some(json!({"reason": "venue closed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (path, on_board, outcome) = seen(&app).await;
    let (_, finance) = p.promoter.get(&app, &path).await;
    assert_eq!(finance["deposit_overdue"], false, "{finance}");
    assert!(!on_board);
    assert_eq!(
        outcome, None,
        "an unpaid deposit of a cancelled booking is no late payment"
    );
}

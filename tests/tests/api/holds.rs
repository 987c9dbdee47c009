//! SPEC 5.4 holds and the hold_expiry job, with the real worker.

use std::time::Duration;

use chrono::Utc;
use kisum_tests::{Org, TestApp, WorkerProcess, eventually};
use reqwest::Method;
use serde_json::{Value, json};

/// An agency (representing one artist) and a promoter, ready to hold dates.
type Stage = kisum_tests::BookingParties;

async fn stage(app: &TestApp) -> Stage {
    kisum_tests::booking_parties(app, "Hold Agency", "Held Artist", &[]).await
}

fn date() -> String {
    (Utc::now().date_naive() + chrono::Duration::days(30)).to_string()
}

fn hold_body(stage: &Stage, expires_in: chrono::Duration) -> Value {
    json!({
        "artist_id": stage.artist,
        "date": date(),
        "promoter_company_id": stage.promoter_company,
        "expires_at": Utc::now() + expires_in,
    })
}

async fn priorities(app: &TestApp, org: &Org, artist: &str) -> Vec<(String, i64, String)> {
    let (_, page) = org
        .get(app, &format!("/api/v1/holds?artist_id={artist}"))
        .await;
    let mut holds: Vec<(String, i64, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().to_owned(),
                h["priority"].as_i64().unwrap(),
                h["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    holds.sort_by_key(|h| h.0.clone());
    holds
}

#[tokio::test]
async fn holds_take_the_next_priority_and_move_up_on_release() {
    let app = TestApp::spawn().await;
    let s = stage(&app).await;
    let mut ids = Vec::new();
    for expected in 1..=3 {
        let (status, hold) = s
            .agency
            .send(
                &app,
                Method::POST,
                "/api/v1/holds",
                Some(hold_body(&s, chrono::Duration::days(3))),
            )
            .await;
        assert_eq!(
            (status, hold["priority"].as_i64()),
            (201, Some(expected)),
            "{hold}"
        );
        ids.push(hold["id"].as_str().unwrap().to_owned());
    }
    // The promoter sees its holds; a third org sees nothing.
    let (status, seen) = s
        .promoter
        .get(&app, &format!("/api/v1/holds/{}", ids[0]))
        .await;
    assert_eq!((status, seen["priority"].as_i64()), (200, Some(1)));
    let stranger = Org::new();
    assert_eq!(
        stranger
            .get(&app, &format!("/api/v1/holds/{}", ids[0]))
            .await
            .0,
        404
    );
    let (_, none) = stranger.get(&app, "/api/v1/holds").await;
    assert_eq!(none["items"], json!([]));
    // Only the agency places and releases.
    let (status, _) = s
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/holds",
            Some(hold_body(&s, chrono::Duration::days(3))),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = s
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/holds/{}/release", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 403);

    let (status, released) = s
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/holds/{}/release", ids[0]),
            None,
        )
        .await;
    assert_eq!(
        (status, released["status"].as_str()),
        (200, Some("released"))
    );
    let holds = priorities(&app, &s.agency, &s.artist).await;
    assert_eq!(
        holds,
        vec![
            (ids[0].clone(), 1, "released".to_owned()),
            (ids[1].clone(), 1, "active".to_owned()),
            (ids[2].clone(), 2, "active".to_owned()),
        ]
    );
    let (status, body) = s
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/holds/{}/release", ids[0]),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    // A new hold goes to the end of the line.
    let (_, fourth) = s
        .agency
        .send(
            &app,
            Method::POST,
            "/api/v1/holds",
            Some(hold_body(&s, chrono::Duration::days(3))),
        )
        .await;
    assert_eq!(fourth["priority"], 3);
    // Stale versions are refused.
    let response = s
        .agency
        .req(
            &app,
            Method::POST,
            &format!("/api/v1/holds/{}/release", ids[2]),
        )
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412, "the promotion bumped its version");

    let activity: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM booking_activity WHERE subject_id = $1::uuid ORDER BY at",
    )
    .bind(&ids[1])
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(activity, vec!["placed", "promoted"]);
    let jobs = kisum_tests::queue::count(&app.pool, "hold_expiry").await;
    assert_eq!(
        jobs, 4,
        "each hold enqueued its expiry in its own transaction"
    );
}

#[tokio::test]
async fn two_first_holds_at_once_get_distinct_priorities() {
    let app = TestApp::spawn().await;
    let s = stage(&app).await;
    let body = hold_body(&s, chrono::Duration::days(2));
    let sends = (0..4).map(|_| {
        s.agency
            .send(&app, Method::POST, "/api/v1/holds", Some(body.clone()))
    });
    let results = futures::future::join_all(sends).await;
    let mut priorities: Vec<i64> = results
        .iter()
        .map(|(status, hold)| {
            assert_eq!(*status, 201, "{hold}");
            hold["priority"].as_i64().unwrap()
        })
        .collect();
    priorities.sort_unstable();
    assert_eq!(priorities, vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn hold_input_is_validated() {
    let app = TestApp::spawn().await;
    let s = stage(&app).await;
    // The setup's own jobs (read-model refreshes of the roster link).
    let jobs_before = kisum_tests::queue::count_all(&app.pool).await;
    let mut past = hold_body(&s, chrono::Duration::days(1));
    past["date"] = json!("2020-01-01");
    let mut expired = hold_body(&s, chrono::Duration::days(1));
    expired["expires_at"] = json!(Utc::now() - chrono::Duration::hours(1));
    let mut too_late = hold_body(&s, chrono::Duration::days(1));
    too_late["expires_at"] = json!(Utc::now() + chrono::Duration::days(90));
    for (body, field) in [
        (past, "date"),
        (expired, "expires_at"),
        (too_late, "expires_at"),
    ] {
        let (status, problem) = s
            .agency
            .send(&app, Method::POST, "/api/v1/holds", Some(body))
            .await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some(field)),
            "{problem}"
        );
    }
    let mut not_a_promoter = hold_body(&s, chrono::Duration::days(1));
    not_a_promoter["promoter_company_id"] = json!(uuid::Uuid::now_v7());
    let (status, problem) = s
        .agency
        .send(&app, Method::POST, "/api/v1/holds", Some(not_a_promoter))
        .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("promoter_company_id"))
    );
    let mut bad_date = hold_body(&s, chrono::Duration::days(1));
    bad_date["date"] = json!("2026-02-30");
    assert_eq!(
        s.agency
            .send(&app, Method::POST, "/api/v1/holds", Some(bad_date))
            .await
            .0,
        422
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM holds")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let jobs = kisum_tests::queue::count_all(&app.pool).await;
    assert_eq!(jobs, jobs_before, "a refused hold enqueued nothing");
}

#[tokio::test]
async fn the_worker_expires_a_due_hold_and_promotes_the_next() {
    let app = TestApp::spawn().await;
    let s = stage(&app).await;
    let (_, first) = s
        .agency
        .send(
            &app,
            Method::POST,
            "/api/v1/holds",
            Some(hold_body(&s, chrono::Duration::seconds(2))),
        )
        .await;
    let (_, second) = s
        .agency
        .send(
            &app,
            Method::POST,
            "/api/v1/holds",
            Some(hold_body(&s, chrono::Duration::days(2))),
        )
        .await;
    assert_eq!(second["priority"], 2);
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let first_path = format!("/api/v1/holds/{}", first["id"].as_str().unwrap());
    eventually(
        Duration::from_secs(30),
        "the first hold expires",
        || async {
            let (_, hold) = s.agency.get(&app, &first_path).await;
            (hold["status"] == "expired").then_some(())
        },
    )
    .await;
    let (_, promoted) = s
        .agency
        .get(
            &app,
            &format!("/api/v1/holds/{}", second["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (promoted["priority"].as_i64(), promoted["status"].as_str()),
        (Some(1), Some("active"))
    );
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT actor FROM booking_activity WHERE subject_id = $1::uuid AND action = 'expired'",
    )
    .bind(first["id"].as_str().unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        actors.len(),
        1,
        "expired once, whoever got there first: {actors:?}"
    );
}

#[tokio::test]
async fn a_challenged_first_hold_that_does_not_confirm_loses_its_place() {
    let app = TestApp::builder()
        .env("HOLD_CHALLENGE_WINDOW_SECONDS", "2")
        .spawn()
        .await;
    let s = stage(&app).await;
    // The promoter bids; the agency accepts.
    let deal = json!({"type": "flat", "currency": "EUR", "guarantee_amount": 300_000});
    let (status, offer) = s
        .promoter
        .send(&app, Method::POST, "/api/v1/offers",
            Some(json!({"artist_id": s.artist, "promoter_company_id": s.promoter_company, "event_date": date(),
                        "deal": deal, "expires_at": Utc::now() + chrono::Duration::days(2), "send": true})))
        .await;
    assert_eq!(status, 201, "{offer}");
    let offer_id = offer["id"].as_str().unwrap();
    assert_eq!(
        s.agency
            .send(
                &app,
                Method::POST,
                &format!("/api/v1/offers/{offer_id}/accept"),
                None
            )
            .await
            .0,
        200
    );

    let (_, first) = s
        .agency
        .send(
            &app,
            Method::POST,
            "/api/v1/holds",
            Some(hold_body(&s, chrono::Duration::days(3))),
        )
        .await;
    let (_, unbacked) = s
        .agency
        .send(
            &app,
            Method::POST,
            "/api/v1/holds",
            Some(hold_body(&s, chrono::Duration::days(3))),
        )
        .await;
    let mut backed_body = hold_body(&s, chrono::Duration::days(3));
    backed_body["offer_id"] = json!(offer_id);
    let (_, backed) = s
        .agency
        .send(&app, Method::POST, "/api/v1/holds", Some(backed_body))
        .await;
    assert_eq!(backed["priority"], 3);

    let challenge =
        |hold: &Value| format!("/api/v1/holds/{}/challenge", hold["id"].as_str().unwrap());
    let (status, body) = s
        .agency
        .send(&app, Method::POST, &challenge(&unbacked), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("challenge_needs_accepted_offer"))
    );
    assert_eq!(
        Org::new()
            .send(&app, Method::POST, &challenge(&backed), None)
            .await
            .0,
        404
    );
    let (status, challenged) = s
        .promoter
        .send(&app, Method::POST, &challenge(&backed), None)
        .await;
    assert_eq!(
        (status, challenged["status"].as_str()),
        (200, Some("challenged")),
        "{challenged}"
    );
    assert_eq!(challenged["id"], first["id"]);
    let (status, body) = s
        .promoter
        .send(&app, Method::POST, &challenge(&backed), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition")),
        "already challenged"
    );

    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let first_path = format!("/api/v1/holds/{}", first["id"].as_str().unwrap());
    eventually(
        Duration::from_secs(30),
        "the challenged hold loses its place",
        || async {
            let (_, hold) = s.agency.get(&app, &first_path).await;
            (hold["status"] == "released").then_some(())
        },
    )
    .await;
    let holds = priorities(&app, &s.agency, &s.artist).await;
    let live: Vec<(String, i64)> = holds
        .iter()
        .filter(|h| h.2 == "active")
        .map(|h| (h.0.clone(), h.1))
        .collect();
    assert_eq!(
        live,
        vec![
            (unbacked["id"].as_str().unwrap().to_owned(), 1),
            (backed["id"].as_str().unwrap().to_owned(), 2)
        ]
    );
}

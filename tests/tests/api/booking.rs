//! SPEC 5.4: offers, counters, acceptance, confirmation into bookings, the
//! activity trail, and the races that matter.

use chrono::Utc;
use kisum_tests::{Org, TestApp, WorkerProcess, eventually};
use reqwest::Method;
use serde_json::{Value, json};

type Parties = kisum_tests::BookingParties;

async fn parties(app: &TestApp) -> Parties {
    kisum_tests::booking_parties(app, "Deal Agency", "Dealt Artist", &[]).await
}

fn event_date() -> chrono::NaiveDate {
    Utc::now().date_naive() + chrono::Duration::days(60)
}

fn offer_body(p: &Parties, deal: Value) -> Value {
    json!({
        "artist_id": p.artist,
        "promoter_company_id": p.promoter_company,
        "event_date": event_date(),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": deal,
        "expires_at": Utc::now() + chrono::Duration::days(7),
        "send": true,
    })
}

fn versus() -> Value {
    json!({
        "type": "versus", "currency": "EUR", "guarantee_amount": 1_000_000,
        "percentage": 80.0, "percentage_basis": "net",
        "deposit_percent": 50.0, "deposit_due_date": Utc::now().date_naive() + chrono::Duration::days(30),
        "ticket_price": 3500, "capacity": 1500, "set_length_minutes": 90,
        "radius": {"km": 100, "days_before": 30, "days_after": 30},
        "hospitality": "Rider as attached"
    })
}

/// An activity trail as `subject:action` steps.
fn steps(trail: &Value) -> Vec<String> {
    trail
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["subject_type"].as_str().unwrap(),
                a["action"].as_str().unwrap()
            )
        })
        .collect()
}

/// A promoter bid, countered by the agency, accepted by the promoter.
async fn accepted_offer(app: &TestApp, p: &Parties) -> Value {
    let (status, offer) = p
        .promoter
        .send(
            app,
            Method::POST,
            "/api/v1/offers",
            Some(offer_body(p, versus())),
        )
        .await;
    assert_eq!(
        (status, offer["status"].as_str()),
        (201, Some("sent")),
        "{offer}"
    );
    let id = offer["id"].as_str().unwrap();
    let mut better = versus();
    better["guarantee_amount"] = json!(1_200_000);
    let (status, countered) = p
        .agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/offers/{id}/counter"),
            Some(json!({"deal": better, "note": "fee up"})),
        )
        .await;
    assert_eq!(
        (
            status,
            countered["status"].as_str(),
            countered["current_version"].as_i64()
        ),
        (200, Some("countered"), Some(2))
    );
    let (status, accepted) = p
        .promoter
        .send(
            app,
            Method::POST,
            &format!("/api/v1/offers/{id}/accept"),
            None,
        )
        .await;
    assert_eq!(
        (status, accepted["status"].as_str()),
        (200, Some("accepted")),
        "{accepted}"
    );
    accepted
}

#[tokio::test]
async fn inquiry_to_booking_with_counter_hold_and_activity() {
    let app = TestApp::spawn().await;
    let p = parties(&app).await;
    let (status, offer) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/offers",
            Some(offer_body(&p, versus())),
        )
        .await;
    assert_eq!(status, 201);
    let id = offer["id"].as_str().unwrap().to_owned();
    let path = |action: &str| format!("/api/v1/offers/{id}/{action}");

    // The author cannot answer its own version; a stranger sees nothing.
    assert_eq!(
        p.promoter
            .send(&app, Method::POST, &path("accept"), None)
            .await
            .0,
        403
    );
    assert_eq!(
        Org::new()
            .get(&app, &format!("/api/v1/offers/{id}"))
            .await
            .0,
        404
    );

    let mut better = versus();
    better["guarantee_amount"] = json!(1_250_000);
    let (status, countered) = p
        .agency
        .send(
            &app,
            Method::POST,
            &path("counter"),
            Some(json!({"deal": better})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(countered["written_by"], "agency");
    assert_eq!(countered["deal"]["guarantee_amount"], 1_250_000);
    assert_eq!(
        p.agency
            .send(&app, Method::POST, &path("accept"), None)
            .await
            .0,
        403,
        "now the promoter answers"
    );
    let (_, versions) = p.promoter.get(&app, &path("versions")).await;
    let amounts: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["deal"]["guarantee_amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![1_000_000, 1_250_000], "old versions are kept");

    // The agency holds the date for this offer; a rival promoter's hold sits behind it.
    let (status, hold) = p
        .agency
        .send(&app, Method::POST, "/api/v1/holds",
            Some(json!({"artist_id": p.artist, "date": event_date(), "promoter_company_id": p.promoter_company,
                        "offer_id": id, "expires_at": Utc::now() + chrono::Duration::days(5)})))
        .await;
    assert_eq!(
        (status, hold["priority"].as_i64()),
        (201, Some(1)),
        "{hold}"
    );
    let (_, rival) = p
        .agency
        .send(&app, Method::POST, "/api/v1/holds",
            Some(json!({"artist_id": p.artist, "date": event_date(), "promoter_company_id": p.promoter_company,
                        "expires_at": Utc::now() + chrono::Duration::days(5)})))
        .await;

    let (status, early) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": id})),
        )
        .await;
    assert_eq!(
        (status, early["code"].as_str()),
        (409, Some("offer_not_accepted"))
    );
    let (status, _) = p
        .promoter
        .send(&app, Method::POST, &path("accept"), None)
        .await;
    assert_eq!(status, 200);
    let (status, booking) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": id})),
        )
        .await;
    assert_eq!(
        (status, booking["status"].as_str()),
        (201, Some("confirmed")),
        "{booking}"
    );
    assert_eq!(booking["hold_id"], hold["id"]);
    assert_eq!(booking["deal"]["guarantee_amount"], 1_250_000);
    let (_, converted) = p
        .agency
        .get(
            &app,
            &format!("/api/v1/holds/{}", hold["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(converted["status"], "converted");
    let (_, released) = p
        .agency
        .get(
            &app,
            &format!("/api/v1/holds/{}", rival["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(released["status"], "released");

    let booking_id = booking["id"].as_str().unwrap();
    let (_, trail) = p
        .agency
        .get(&app, &format!("/api/v1/bookings/{booking_id}/activity"))
        .await;
    let steps = steps(&trail);
    assert_eq!(
        steps,
        [
            "offer:written",
            "offer:countered",
            "hold:placed",
            "offer:accepted",
            "hold:converted",
            "booking:confirmed"
        ]
    );
    assert!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["actor"].as_str().is_some_and(|s| !s.is_empty()))
    );
    // The offer shows the same trail; a stranger sees none of it.
    let (status, from_offer) = p.promoter.get(&app, &path("activity")).await;
    assert_eq!((status, &from_offer), (200, &trail));
    assert_eq!(Org::new().get(&app, &path("activity")).await.0, 404);
    assert_eq!(
        Org::new()
            .get(&app, &format!("/api/v1/bookings/{booking_id}"))
            .await
            .0,
        404
    );

    // Complete only on or after the date; cancel with a reason.
    let (status, body) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking_id}/complete"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("booking_in_future"))
    );
    let (status, cancelled) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking_id}/cancel"),
            Some(json!({"reason": "venue closed"})),
        )
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled"))
    );
    let (status, _) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking_id}/cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn impossible_deals_are_refused_with_field_errors() {
    let app = TestApp::spawn().await;
    let p = parties(&app).await;
    let mut no_percentage = versus();
    no_percentage.as_object_mut().unwrap().remove("percentage");
    let mut big_deposit = versus();
    big_deposit["deposit_percent"] = json!(120.0);
    let mut body_expired = offer_body(&p, versus());
    body_expired["expires_at"] = json!(Utc::now() - chrono::Duration::hours(1));
    let cases = [
        (offer_body(&p, no_percentage), "deal.percentage"),
        (offer_body(&p, big_deposit), "deal.deposit_percent"),
        (body_expired, "expires_at"),
    ];
    for (body, field) in cases {
        let (status, problem) = p
            .promoter
            .send(&app, Method::POST, "/api/v1/offers", Some(body))
            .await;
        assert_eq!(status, 422, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let mut unknown_type = versus();
    unknown_type["type"] = json!("barter");
    let (status, problem) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/offers",
            Some(offer_body(&p, unknown_type)),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_body"))
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM offers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    // A stranger may not write offers for the artist.
    let (status, _) = Org::new()
        .send(
            &app,
            Method::POST,
            "/api/v1/offers",
            Some(offer_body(&p, versus())),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn two_confirms_race_and_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let p = parties(&app).await;
    // The same offer confirmed twice at once.
    let offer = accepted_offer(&app, &p).await;
    let confirm = || {
        p.promoter.send(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": offer["id"]})),
        )
    };
    let (a, b) = tokio::join!(
        confirm(),
        p.agency.send(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": offer["id"]}))
        )
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");

    // Two accepted offers for the same date: one booking.
    let app2 = TestApp::spawn().await;
    let p2 = parties(&app2).await;
    let first = accepted_offer(&app2, &p2).await;
    let second = accepted_offer(&app2, &p2).await;
    let (x, y) = tokio::join!(
        p2.promoter.send(
            &app2,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": first["id"]}))
        ),
        p2.agency.send(
            &app2,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": second["id"]}))
        ),
    );
    let mut outcomes = [
        (x.0, x.1["code"].as_str().map(str::to_owned)),
        (y.0, y.1["code"].as_str().map(str::to_owned)),
    ];
    outcomes.sort();
    assert_eq!(outcomes[0].0, 201);
    assert_eq!(outcomes[1], (409, Some("date_already_booked".to_owned())));
    let confirmed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM bookings WHERE status = 'confirmed'")
            .fetch_one(&app2.pool)
            .await
            .unwrap();
    assert_eq!(confirmed, 1);
}

#[tokio::test]
async fn requests_route_to_the_agency_and_convert_into_offers() {
    let app = TestApp::spawn().await;
    let p = parties(&app).await;
    let body = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": event_date(),
        "venue": {"name": "Melkweg", "capacity": 700}, "message": "Saturday headline slot?", "wants_hold": true
    });
    let (status, request) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/booking-requests",
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (status, request["status"].as_str()),
        (201, Some("open")),
        "{request}"
    );
    let id = request["id"].as_str().unwrap().to_owned();

    let (_, incoming) = p
        .agency
        .get(&app, "/api/v1/booking-requests?role=incoming")
        .await;
    assert_eq!(incoming["items"][0]["id"], id.as_str());
    let (_, outgoing) = p
        .agency
        .get(&app, "/api/v1/booking-requests?role=outgoing")
        .await;
    assert_eq!(outgoing["items"], json!([]));
    let (_, mine) = p
        .promoter
        .get(&app, "/api/v1/booking-requests?role=outgoing")
        .await;
    assert_eq!(mine["items"][0]["id"], id.as_str());
    assert_eq!(
        Org::new()
            .get(&app, &format!("/api/v1/booking-requests/{id}"))
            .await
            .0,
        404
    );
    let (status, _) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/booking-requests/{id}/decline"),
            None,
        )
        .await;
    assert_eq!(status, 403, "the promoter withdraws, it does not decline");

    // The agency answers with a quote: the request is converted.
    let mut quote = offer_body(&p, versus());
    quote["booking_request_id"] = json!(id);
    let (status, offer) = p
        .agency
        .send(&app, Method::POST, "/api/v1/offers", Some(quote.clone()))
        .await;
    assert_eq!(
        (status, offer["written_by"].as_str()),
        (201, Some("agency")),
        "{offer}"
    );
    let (_, converted) = p
        .agency
        .get(&app, &format!("/api/v1/booking-requests/{id}"))
        .await;
    assert_eq!(converted["status"], "converted");
    // The request's trail goes on into the offer answering it.
    let (status, trail) = p
        .promoter
        .get(&app, &format!("/api/v1/booking-requests/{id}/activity"))
        .await;
    assert_eq!(status, 200, "{trail}");
    let steps = steps(&trail);
    assert_eq!(
        steps,
        ["request:requested", "request:converted", "offer:written"]
    );
    let (status, _) = Org::new()
        .get(&app, &format!("/api/v1/booking-requests/{id}/activity"))
        .await;
    assert_eq!(status, 404);
    let (status, body2) = p
        .agency
        .send(&app, Method::POST, "/api/v1/offers", Some(quote))
        .await;
    assert_eq!(
        (status, body2["code"].as_str()),
        (409, Some("request_not_open"))
    );
    let (status, _) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/booking-requests/{id}/decline"),
            None,
        )
        .await;
    assert_eq!(status, 409);

    // Another request: the agency may decline, the promoter may withdraw.
    let (_, second) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/booking-requests",
            Some(body.clone()),
        )
        .await;
    let second_id = second["id"].as_str().unwrap();
    let (status, _) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/booking-requests/{second_id}/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, withdrawn) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/booking-requests/{second_id}/withdraw"),
            None,
        )
        .await;
    assert_eq!(
        (status, withdrawn["status"].as_str()),
        (200, Some("withdrawn"))
    );
    let (_, third) = p
        .promoter
        .send(&app, Method::POST, "/api/v1/booking-requests", Some(body))
        .await;
    let (status, declined) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!(
                "/api/v1/booking-requests/{}/decline",
                third["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, declined["status"].as_str()),
        (200, Some("declined"))
    );

    // Only the promoter's org sends requests, and only for a represented artist.
    let mut foreign = json!({"artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": event_date()});
    assert_eq!(
        Org::new()
            .send(
                &app,
                Method::POST,
                "/api/v1/booking-requests",
                Some(foreign.clone())
            )
            .await
            .0,
        403
    );
    foreign["event_date"] = json!("2020-01-01");
    let (status, problem) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/booking-requests",
            Some(foreign),
        )
        .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("event_date"))
    );
}

#[tokio::test]
async fn unanswered_offers_and_requests_expire_with_the_worker() {
    let app = TestApp::spawn().await;
    let p = parties(&app).await;
    let soon = || Utc::now() + chrono::Duration::seconds(2);
    let request_body = |expires_at: Value| {
        json!({"artist_id": p.artist, "promoter_company_id": p.promoter_company,
               "event_date": event_date(), "expires_at": expires_at})
    };
    // Expiry is checked: not in the past, not after the event date.
    for bad in [
        json!(Utc::now() - chrono::Duration::minutes(1)),
        json!(Utc::now() + chrono::Duration::days(90)),
    ] {
        let (status, problem) = p
            .promoter
            .send(
                &app,
                Method::POST,
                "/api/v1/booking-requests",
                Some(request_body(bad)),
            )
            .await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some("expires_at")),
            "{problem}"
        );
    }
    // By default a request waits 14 days.
    let (status, lasting) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/booking-requests",
            Some(request_body(Value::Null)),
        )
        .await;
    assert_eq!(status, 201, "{lasting}");
    let default_ttl = lasting["expires_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<Utc>>()
        .unwrap()
        - Utc::now();
    assert!((13..=14).contains(&default_ttl.num_days()), "{lasting}");

    let (_, request) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/booking-requests",
            Some(request_body(json!(soon()))),
        )
        .await;
    let mut sent = offer_body(&p, versus());
    sent["expires_at"] = json!(soon());
    let (_, offer) = p
        .promoter
        .send(&app, Method::POST, "/api/v1/offers", Some(sent.clone()))
        .await;
    sent["send"] = json!(false);
    let (_, draft) = p
        .promoter
        .send(&app, Method::POST, "/api/v1/offers", Some(sent.clone()))
        .await;
    sent["send"] = json!(true);
    let (_, extended) = p
        .promoter
        .send(&app, Method::POST, "/api/v1/offers", Some(sent))
        .await;
    let extended_id = extended["id"].as_str().unwrap();
    let (status, countered) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/offers/{extended_id}/counter"),
            Some(json!({"deal": versus(), "expires_at": Utc::now() + chrono::Duration::days(1)})),
        )
        .await;
    assert_eq!(status, 200, "{countered}");
    let due = [&request, &offer, &draft]
        .iter()
        .map(|v| {
            v["expires_at"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<Utc>>()
                .unwrap()
        })
        .max()
        .unwrap();
    kisum_tests::wait_until(due).await;

    // Due but not yet swept: answering is refused all the same.
    let request_path = format!(
        "/api/v1/booking-requests/{}",
        request["id"].as_str().unwrap()
    );
    let offer_path = format!("/api/v1/offers/{}", offer["id"].as_str().unwrap());
    let draft_path = format!("/api/v1/offers/{}", draft["id"].as_str().unwrap());
    for (org, path, code) in [
        (
            &p.agency,
            format!("{request_path}/decline"),
            "request_expired",
        ),
        (&p.agency, format!("{offer_path}/accept"), "offer_expired"),
        (&p.promoter, format!("{draft_path}/send"), "offer_expired"),
    ] {
        let (status, problem) = org.send(&app, Method::POST, &path, None).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some(code)),
            "{path}: {problem}"
        );
    }
    let (_, answer) = p
        .agency
        .send(&app, Method::POST, "/api/v1/offers", Some(json!({
            "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": event_date(),
            "booking_request_id": request["id"], "deal": versus(),
            "expires_at": Utc::now() + chrono::Duration::days(3)})))
        .await;
    assert_eq!(answer["code"], "request_expired", "{answer}");

    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    eventually(
        std::time::Duration::from_secs(30),
        "the request and the offer expire",
        || async {
            let (_, r) = p.promoter.get(&app, &request_path).await;
            let (_, o) = p.promoter.get(&app, &offer_path).await;
            (r["status"] == "expired" && o["status"] == "expired").then_some(())
        },
    )
    .await;
    // The countered offer's job for its first expiry has run by now.
    kisum_tests::wait_queue_drained(&app.pool, "offer_expiry").await;
    let (_, o) = p.promoter.get(&app, &draft_path).await;
    assert_eq!(
        o["status"], "draft",
        "a draft is never sent, so never expires"
    );
    let (_, o) = p
        .promoter
        .get(&app, &format!("/api/v1/offers/{extended_id}"))
        .await;
    assert_eq!(
        o["status"], "countered",
        "the counter moved the expiry a day out"
    );
    let (_, r) = p
        .promoter
        .get(
            &app,
            &format!(
                "/api/v1/booking-requests/{}",
                lasting["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(r["status"], "open");

    // Each expiry is written once, by the system.
    for id in [&request["id"], &offer["id"]] {
        let actors: Vec<String> = sqlx::query_scalar(
            "SELECT actor FROM booking_activity WHERE subject_id = $1::uuid AND action = 'expired'",
        )
        .bind(id.as_str().unwrap())
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(actors.len(), 1, "{actors:?}");
        assert!(actors[0].starts_with("system:"), "{actors:?}");
    }
    let (status, problem) = p
        .agency
        .send(&app, Method::POST, &format!("{offer_path}/accept"), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("invalid_transition"))
    );
}

/// The statements sqlx logged while serving the request that answered
/// with `request_id`.
fn statements_of(api: &kisum_tests::processes::ApiProcess, request_id: &str) -> Vec<String> {
    api.log_lines()
        .into_iter()
        .filter(|l| l["target"] == "sqlx::query")
        .filter(|l| {
            l["spans"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(std::iter::once(&l["span"]))
                .any(|s| s["request_id"] == request_id)
        })
        .map(|l| l["summary"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A hold and a sent offer are written in at most six round trips each
/// (BEGIN and COMMIT count), counted from sqlx's statement log of a real
/// API process with the rate limit on, and still leave everything they leave: the activity entry,
/// the expiry job, the read-model marks and, for the offer, the trust marks.
/// Then one more statement reads the answer's consistency token.
#[tokio::test]
async fn a_hold_and_a_sent_offer_take_at_most_six_statements() {
    let app = TestApp::spawn().await;
    let p = parties(&app).await;
    let api = kisum_tests::processes::ApiProcess::spawn(
        &app.db.url,
        &[
            ("RUST_LOG", "warn,api=info,sqlx::query=debug"),
            ("RATE_LIMIT_PER_MINUTE", "6000"),
        ],
    )
    .await;
    let send = |org: &Org, path: &str, body: Value| {
        api.http
            .post(api.url(path))
            .bearer_auth(&org.token)
            .header("x-org", org.id.to_string())
            .json(&body)
            .send()
    };
    // The first request of each kind warms the caches (effective access,
    // prepared statements); the second is counted.
    let mut counted = Vec::new();
    for n in 0..2_i64 {
        let day = event_date() + chrono::Duration::days(n);
        let hold = send(
            &p.agency,
            "/api/v1/holds",
            json!({
                "artist_id": p.artist, "date": day, "promoter_company_id": p.promoter_company,
                "expires_at": Utc::now() + chrono::Duration::days(2),
            }),
        )
        .await
        .unwrap();
        let mut offer_body = offer_body(&p, versus());
        offer_body["event_date"] = json!(day);
        offer_body["venue"]["city_id"] = json!(2_759_794);
        let offer = send(&p.promoter, "/api/v1/offers", offer_body)
            .await
            .unwrap();
        counted.clear();
        for (what, response) in [("hold", hold), ("offer", offer)] {
            let request_id = response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(response.status(), 201);
            let body: Value = response.json().await.unwrap();
            counted.push((what, body, statements_of(&api, &request_id)));
        }
    }
    for (what, _, statements) in &counted {
        // sqlx sends BEGIN without logging it. A pooled connection's first
        // use of a custom type looks its OID up once (sqlx's type cache),
        // which is the connection's cost, not the request's. The rate
        // limit's lease is here when this request fetched one (once per
        // batch of requests) and counts.
        //
        // After the COMMIT, the consistency token (SPEC 5.11) is read: one
        // statement outside the write's transaction, counted apart.
        let commit = statements.iter().position(|s| s == "COMMIT");
        let token: Vec<&String> = statements
            .iter()
            .skip(commit.map_or(statements.len(), |c| c + 1))
            .collect();
        assert!(
            token.len() == 1 && token[0].contains("pg_current_wal_lsn"),
            "{what}: after COMMIT {token:#?}"
        );
        let statements: Vec<&String> = statements
            .iter()
            .take(commit.map_or(statements.len(), |c| c + 1))
            .filter(|s| !s.starts_with("SELECT pg_type.oid"))
            .collect();
        let trips =
            statements.len() + usize::from(!statements.iter().any(|s| s.starts_with("BEGIN")));
        assert!(
            statements.iter().any(|s| *s == "COMMIT") && trips <= 6,
            "{what}: {trips} round trips: {statements:#?}"
        );
    }

    let (_, hold, _) = &counted[0];
    let (_, offer, _) = &counted[1];
    assert_eq!(
        (hold["priority"].as_i64(), hold["status"].as_str()),
        (Some(1), Some("active"))
    );
    assert_eq!(offer["status"], "sent");
    let actions: Vec<(String, String)> = sqlx::query_as(
        "SELECT subject_type, action FROM booking_activity WHERE subject_id IN ($1::uuid, $2::uuid) ORDER BY subject_type",
    )
    .bind(hold["id"].as_str().unwrap())
    .bind(offer["id"].as_str().unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            ("hold".to_owned(), "placed".to_owned()),
            ("offer".to_owned(), "written".to_owned())
        ]
    );
    for (queue, field, id) in [
        ("hold_expiry", "hold_id", &hold["id"]),
        ("offer_expiry", "offer_id", &offer["id"]),
    ] {
        let jobs = kisum_tests::queue::jobs(&app.pool, queue).await;
        assert_eq!(
            jobs.iter().filter(|j| j.payload[field] == *id).count(),
            1,
            "{queue}: {jobs:?}"
        );
    }
    let marked: Vec<(String, String)> =
        sqlx::query_as("SELECT model, key::text FROM read_model_dirty ORDER BY model, key")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for key in [&p.agency_company, &p.promoter_company] {
        assert!(
            marked.contains(&("company_dashboard".to_owned(), key.clone())),
            "{marked:?}"
        );
    }
    assert!(
        marked.contains(&("artist_search".to_owned(), p.artist.clone())),
        "{marked:?}"
    );
    let trust: Vec<String> = sqlx::query_scalar("SELECT company_id::text FROM trust_dirty")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for key in [&p.agency_company, &p.promoter_company] {
        assert!(trust.contains(key), "{trust:?}");
    }
}

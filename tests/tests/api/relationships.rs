//! SPEC 5.7: relationship memory, private notes and flags, ratings, the
//! worker's explainable trust score and an artist's booking history,
//! through HTTP and the real worker.

use std::time::{Duration, Instant};

use chrono::Utc;
use kisum_tests::{BookingParties, Org, TestApp, WorkerProcess, eventually, problem};
use reqwest::Method;
use serde_json::{Value, json};

fn offer(p: &BookingParties, days: i64) -> Value {
    json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": Utc::now().date_naive() + chrono::Duration::days(days),
        "venue": {"name": "Paradiso", "city_id": 2759794, "capacity": 1500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 500_000},
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    })
}

/// A booking played `days_ago` and completed by the agency. The show date
/// is moved into the past first: a booking is completed on or after it.
async fn played(app: &TestApp, p: &BookingParties, days_ago: i64) -> String {
    let id = kisum_tests::confirmed_booking(app, p, offer(p, 200 + days_ago)).await;
    sqlx::query("UPDATE bookings SET event_date = current_date - $2::int WHERE id = $1::uuid")
        .bind(&id)
        .bind(i32::try_from(days_ago).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, body) = p
        .agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/bookings/{id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

async fn trust(app: &TestApp, org: &Org, company: &str) -> Value {
    let (status, body) = org
        .get(app, &format!("/api/v1/artists-companies/{company}/trust"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The trust of `company` once the worker has computed it at least
/// `after` times.
async fn computed(app: &TestApp, org: &Org, company: &str, after: i64) -> Value {
    eventually(
        Duration::from_secs(30),
        "the worker computes the trust",
        || async {
            let n: Option<i64> = sqlx::query_scalar(
                "SELECT computations FROM trust_scores WHERE company_id = $1::uuid",
            )
            .bind(company)
            .fetch_optional(&app.pool)
            .await
            .unwrap();
            let dirty: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM trust_dirty WHERE company_id = $1::uuid)",
            )
            .bind(company)
            .fetch_one(&app.pool)
            .await
            .unwrap();
            (n.unwrap_or(0) >= after && !dirty).then_some(())
        },
    )
    .await;
    trust(app, org, company).await
}

fn contributions(t: &Value) -> i64 {
    t["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["contribution"].as_i64().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn a_late_cancellation_lowers_the_cancellers_trust_after_the_worker_runs() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p = kisum_tests::booking_parties(&app, "Trust Agency", "Trust Artist", &[]).await;
    let promoter = p.promoter_company.clone();

    // Never computed on the request: before the worker ran, nothing.
    let fresh = trust(&app, &p.agency, &promoter).await;
    assert_eq!(fresh["computed_at"], Value::Null, "{fresh}");
    assert_eq!(fresh["band"], "insufficient_history");

    // Two bookings: too little history for a number.
    for days_ago in [40, 30] {
        played(&app, &p, days_ago).await;
    }
    let two = computed(&app, &p.agency, &promoter, 1).await;
    assert_eq!(two["band"], "insufficient_history", "{two}");
    assert_eq!(two["score"], Value::Null);
    assert_eq!(two["sample_size"], 2);

    // Five completed bookings: a score, its factors summing to it.
    for days_ago in [25, 20, 15] {
        played(&app, &p, days_ago).await;
    }
    let upcoming = kisum_tests::confirmed_booking(&app, &p, offer(&p, 10)).await;
    let n = settled(&app, &promoter).await;
    let clean = computed(&app, &p.agency, &promoter, n).await;
    let score = clean["score"].as_i64().expect("a score with five bookings");
    assert_eq!(clean["sample_size"], 5, "{clean}");
    assert_eq!(contributions(&clean), score, "{clean}");
    assert_eq!(
        clean["factors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["weight_bp"].as_i64().unwrap())
            .sum::<i64>(),
        10_000
    );
    assert_eq!(clean["reasons"], json!([]), "{clean}");
    let n = settled(&app, &p.agency_company).await;
    let agency_clean = computed(&app, &p.agency, &p.agency_company, n).await;

    // The promoter cancels ten days before the show.
    let n = settled(&app, &promoter).await + 1;
    let (status, body) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{upcoming}/cancel"),
            Some(json!({"reason": "low sales"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let after = computed(&app, &p.agency, &promoter, n).await;
    let lowered = after["score"].as_i64().unwrap();
    assert!(lowered < score, "{lowered} < {score}: {after}");
    assert_eq!(contributions(&after), lowered, "{after}");
    assert_eq!(after["reasons"][0], "cancellations", "{after}");
    assert_eq!(after["sample_size"], 6);
    // The agency did not cancel: its score does not fall.
    let n = settled(&app, &p.agency_company).await;
    let agency_after = computed(&app, &p.agency, &p.agency_company, n).await;
    assert!(
        agency_after["score"].as_i64() >= agency_clean["score"].as_i64(),
        "{agency_after} {agency_clean}"
    );

    // The agency's memory of the promoter shows who cancelled.
    let (status, list) = p.agency.get(&app, "/api/v1/relationships").await;
    assert_eq!(status, 200, "{list}");
    let row = &list["items"][0];
    assert_eq!(row["counterparty_id"], promoter.as_str(), "{list}");
    assert_eq!(row["bookings_completed"], 5, "{row}");
    assert_eq!(row["bookings_cancelled"], 1, "{row}");
    assert_eq!(row["cancelled_by_them"], 1, "{row}");
    assert_eq!(row["cancelled_by_us"], 0, "{row}");
    assert_eq!(row["counterparty_trust_score"], lowered, "{row}");
    // And the promoter's memory of the agency, the other way round.
    let (_, theirs) = p.promoter.get(&app, "/api/v1/relationships").await;
    assert_eq!(theirs["items"][0]["cancelled_by_us"], 1, "{theirs}");
}

/// How many times the worker has computed the company, once no
/// recomputation is pending.
async fn settled(app: &TestApp, company: &str) -> i64 {
    // Wait out a pending recomputation, then read the count.
    eventually(
        Duration::from_secs(30),
        "no pending recomputation",
        || async {
            let dirty: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM trust_dirty WHERE company_id = $1::uuid)",
            )
            .bind(company)
            .fetch_one(&app.pool)
            .await
            .unwrap();
            (!dirty).then_some(())
        },
    )
    .await;
    sqlx::query_scalar(
        "SELECT COALESCE(max(computations), 0) FROM trust_scores WHERE company_id = $1::uuid",
    )
    .bind(company)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_burst_of_ten_events_is_recomputed_once() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p = kisum_tests::booking_parties(&app, "Burst Agency", "Burst Artist", &[]).await;
    // Ten offers in well under the two seconds a burst is gathered for.
    let started = Instant::now();
    for days in 0..10 {
        let (status, body) = p
            .promoter
            .send(
                &app,
                Method::POST,
                "/api/v1/offers",
                Some(offer(&p, 30 + days)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(1500),
        "the ten offers took {elapsed:?}: too slow to be one burst"
    );
    for company in [&p.promoter_company, &p.agency_company] {
        computed(&app, &p.agency, company, 1).await;
    }
    // Every recomputation that was due has run and none waits for later:
    // still one computation each.
    let trust = kisum_tests::wait_queue_drained(&app.pool, "trust_score").await;
    assert_eq!(trust.scheduled, 0, "no second recomputation waits");
    let counts: Vec<i64> = sqlx::query_scalar(
        "SELECT computations FROM trust_scores WHERE company_id = ANY ($1::uuid[]) ORDER BY company_id",
    )
    .bind(vec![
        uuid::Uuid::parse_str(&p.promoter_company).unwrap(),
        uuid::Uuid::parse_str(&p.agency_company).unwrap(),
    ])
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(counts, vec![1, 1]);
    let jobs = kisum_tests::queue::count(&app.pool, "trust_score").await;
    assert_eq!(jobs, 1, "one job for the burst");
    // The relationship memory counts the ten offers.
    let (_, list) = p.agency.get(&app, "/api/v1/relationships").await;
    assert_eq!(list["items"][0]["offers"], 10, "{list}");
}

#[tokio::test]
async fn notes_and_flags_are_private_to_the_writing_org() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Note Agency", "Note Artist", &[]).await;
    let (a, b) = (&p.agency, &p.promoter);
    let company = &p.promoter_company;
    let notes = format!("/api/v1/relationships/{company}/notes");
    let flags = format!("/api/v1/relationships/{company}/flags");
    let (status, note) = a
        .send(
            &app,
            Method::POST,
            &notes,
            Some(json!({"body": "Pays late, great hospitality."})),
        )
        .await;
    assert_eq!(status, 201, "{note}");
    let (status, flag) = a
        .send(
            &app,
            Method::POST,
            &flags,
            Some(json!({"kind": "late_payment", "note": "60 days"})),
        )
        .await;
    assert_eq!(status, 201, "{flag}");

    // The writer sees them; another org sees none, and cannot delete them.
    let (_, mine) = a.get(&app, &notes).await;
    assert_eq!(mine["items"][0]["id"], note["id"]);
    let (_, detail) = a
        .get(&app, &format!("/api/v1/relationships/{company}"))
        .await;
    assert_eq!(detail["notes"], 1, "{detail}");
    assert_eq!(detail["flags"], json!(["late_payment"]), "{detail}");
    for other in [b, &Org::new()] {
        let (status, theirs) = other.get(&app, &notes).await;
        assert_eq!(status, 200);
        assert_eq!(theirs["items"], json!([]), "{theirs}");
        let (_, theirs) = other.get(&app, &flags).await;
        assert_eq!(theirs["items"], json!([]), "{theirs}");
        let (_, detail) = other
            .get(&app, &format!("/api/v1/relationships/{company}"))
            .await;
        assert_eq!(detail["notes"], 0, "{detail}");
        assert_eq!(detail["flags"], json!([]), "{detail}");
        for path in [
            format!(
                "/api/v1/relationship-notes/{}",
                note["id"].as_str().unwrap()
            ),
            format!(
                "/api/v1/relationship-flags/{}",
                flag["id"].as_str().unwrap()
            ),
        ] {
            let response = other.req(&app, Method::DELETE, &path).send().await.unwrap();
            problem(response, 404, "not_found").await;
        }
    }

    // The same flag twice is 409; bad input is 422; neither stores anything.
    let response = a
        .req(&app, Method::POST, &flags)
        .json(&json!({"kind": "late_payment"}))
        .send()
        .await
        .unwrap();
    problem(response, 409, "flag_exists").await;
    for bad in [
        json!({"kind": "pays_in_goats"}),
        json!({"kind": "other", "note": "x".repeat(2001)}),
        json!({"kind": "other", "booking_id": uuid::Uuid::now_v7()}),
    ] {
        let response = a
            .req(&app, Method::POST, &flags)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
    for bad in [
        json!({"body": ""}),
        json!({"body": "x".repeat(5001)}),
        json!({"text": "hi"}),
    ] {
        let response = a
            .req(&app, Method::POST, &notes)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
    let stored: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM relationship_notes), (SELECT count(*) FROM relationship_flags)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, (1, 1));
    // An unknown company is 404.
    let nowhere = format!("/api/v1/relationships/{}/notes", uuid::Uuid::now_v7());
    let response = a.req(&app, Method::GET, &nowhere).send().await.unwrap();
    problem(response, 404, "not_found").await;

    // The writer deletes its own.
    let path = format!(
        "/api/v1/relationship-notes/{}",
        note["id"].as_str().unwrap()
    );
    let response = a.req(&app, Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn each_party_rates_a_completed_booking_once() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Rate Agency", "Rate Artist", &[]).await;
    let upcoming = kisum_tests::confirmed_booking(&app, &p, offer(&p, 20)).await;
    let rate = |id: &str| format!("/api/v1/bookings/{id}/ratings");
    let response = p
        .promoter
        .req(&app, Method::POST, &rate(&upcoming))
        .json(&json!({"overall": 5}))
        .send()
        .await
        .unwrap();
    problem(response, 409, "booking_not_completed").await;

    let done = played(&app, &p, 3).await;
    let body = json!({"overall": 4, "hospitality": 5, "payment": 3, "comment": "Smooth load-in"});
    let (status, rating) = p
        .agency
        .send(&app, Method::POST, &rate(&done), Some(body.clone()))
        .await;
    assert_eq!(status, 201, "{rating}");
    assert_eq!(rating["rater_side"], "agency");
    assert_eq!(rating["ratee_company_id"], p.promoter_company.as_str());
    let response = p
        .agency
        .req(&app, Method::POST, &rate(&done))
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(response, 409, "rating_exists").await;
    let (status, theirs) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &rate(&done),
            Some(json!({"overall": 5})),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    assert_eq!(theirs["rater_side"], "promoter");
    // Another org cannot rate it, nor learn it exists.
    let response = Org::new()
        .req(&app, Method::POST, &rate(&done))
        .json(&json!({"overall": 1}))
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
    // Out-of-range stars and unknown fields are 422 and store nothing.
    for bad in [
        json!({"overall": 6}),
        json!({"overall": 0}),
        json!({"overall": 3, "payment": 9}),
        json!({"overall": 3, "vibes": 5}),
        json!({"overall": 3, "comment": "x".repeat(2001)}),
    ] {
        let response = p
            .agency
            .req(&app, Method::POST, &rate(&upcoming))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
    let ratings: i64 = sqlx::query_scalar("SELECT count(*) FROM booking_ratings")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(ratings, 2);
}

#[tokio::test]
async fn booking_history_shows_terms_to_the_parties_only() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "History Agency", "History Artist", &[]).await;
    let done = played(&app, &p, 12).await;
    let cancelled = kisum_tests::confirmed_booking(&app, &p, offer(&p, 40)).await;
    let (status, _) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{cancelled}/cancel"),
            Some(json!({"reason": "illness"})),
        )
        .await;
    assert_eq!(status, 200);
    kisum_tests::confirmed_booking(&app, &p, offer(&p, 50)).await;
    let path = format!("/api/v1/artists/{}/booking-history", p.artist);

    let (status, party) = p.promoter.get(&app, &path).await;
    assert_eq!(status, 200, "{party}");
    let items = party["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        2,
        "confirmed bookings are not history: {party}"
    );
    assert_eq!(
        items[0]["booking_id"],
        cancelled.as_str(),
        "newest show first"
    );
    assert_eq!(items[0]["status"], "cancelled");
    assert_eq!(items[0]["cancelled_by"], "agency");
    assert_eq!(items[0]["cancel_reason"], "illness");
    assert_eq!(items[1]["booking_id"], done.as_str());
    assert_eq!(items[1]["your_side"], "promoter");
    assert_eq!(items[1]["deal"]["guarantee_amount"], 500_000);
    assert_eq!(items[1]["city"], "Amsterdam");

    let (status, outsider) = Org::new().get(&app, &path).await;
    assert_eq!(status, 200);
    for item in outsider["items"].as_array().unwrap() {
        for hidden in [
            "booking_id",
            "deal",
            "your_side",
            "agency_company_id",
            "promoter_company_id",
            "cancel_reason",
            "cancelled_by",
        ] {
            assert_eq!(item[hidden], Value::Null, "{hidden} in {item}");
        }
        assert_eq!(item["venue_name"], "Paradiso");
        assert!(item["event_date"].is_string());
    }
    let text = outsider.to_string();
    assert!(
        !text.contains(&done) && !text.contains(&cancelled),
        "{text}"
    );
    // Nor does the cursor it is given name a booking.
    let (_, first) = Org::new().get(&app, &format!("{path}?limit=1")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let decoded =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, cursor).unwrap();
    let decoded = String::from_utf8(decoded).unwrap();
    assert!(
        !decoded.contains(&done) && !decoded.contains(&cancelled),
        "{decoded}"
    );
    assert_eq!(first["items"][0]["ended_at"], Value::Null);

    // Paging walks the same two entries.
    let (_, first) = p.agency.get(&app, &format!("{path}?limit=1")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = p
        .agency
        .get(&app, &format!("{path}?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(second["items"][0]["booking_id"], done.as_str());
    assert_eq!(second["next_cursor"], Value::Null);
    let unknown = format!("/api/v1/artists/{}/booking-history", uuid::Uuid::now_v7());
    let response = p
        .agency
        .req(&app, Method::GET, &unknown)
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
}

/// Trust and relationship rows, without the times they were computed.
async fn stored(app: &TestApp) -> (Vec<Value>, Vec<Value>) {
    let trust: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(t) - 'computed_at' - 'computations' FROM trust_scores t
          WHERE sample_size > 0 ORDER BY company_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let relationships: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(r) - 'refreshed_at' FROM relationships r ORDER BY company_id, counterparty_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    (trust, relationships)
}

#[tokio::test]
async fn the_nightly_sweep_repairs_drift_and_matches_the_incremental_rows() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p = kisum_tests::booking_parties(&app, "Sweep Agency", "Sweep Artist", &[]).await;
    let done = played(&app, &p, 8).await;
    played(&app, &p, 6).await;
    let (status, _) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{done}/ratings"),
            Some(json!({"overall": 2})),
        )
        .await;
    assert_eq!(status, 201);
    kisum_tests::confirmed_booking(&app, &p, offer(&p, 15)).await;
    for company in [&p.agency_company, &p.promoter_company] {
        settled(&app, company).await;
    }
    let incremental = stored(&app).await;
    assert_eq!(incremental.0.len(), 2, "{incremental:?}");
    assert_eq!(incremental.1.len(), 2, "{incremental:?}");

    // Drift: a lost row and a wrong score. The sweep puts both right.
    sqlx::raw_sql(
        "DELETE FROM relationships WHERE company_id = (SELECT company_id FROM relationships ORDER BY 1 LIMIT 1);
         UPDATE trust_scores SET score = 1, band = 'poor', factors = '[]'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    shared::jobs::enqueue_tick::<shared::jobs::TrustSweep>(&mut conn, 1_790_000_000)
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "the sweep runs", || async {
        let done = kisum_tests::queue::count_done(&app.pool, "trust_sweep").await;
        (done > 0).then_some(())
    })
    .await;
    assert_eq!(stored(&app).await, incremental);
    // Every company has a stored trust after the sweep, history or not.
    let (companies, scored): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM companies), (SELECT count(*) FROM trust_scores)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(companies, scored);
}

#[tokio::test]
async fn maintenance_resumes_a_dirty_company_whose_job_died() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Stranded Agency", "Stranded Artist", &[]).await;
    // Marked ten minutes ago, and its job is gone (dead and pruned).
    sqlx::query(
        "INSERT INTO trust_dirty (company_id, marked_at) VALUES ($1::uuid, now() - interval '10 minutes')",
    )
    .bind(&p.promoter_company)
    .execute(&app.pool)
    .await
    .unwrap();
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let mut conn = app.pool.acquire().await.unwrap();
    shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut conn, 1_790_000_000)
        .await
        .unwrap();
    let t = computed(&app, &p.agency, &p.promoter_company, 1).await;
    assert!(t["computed_at"].is_string(), "{t}");
}

#[tokio::test]
async fn two_racing_ratings_of_one_side_store_one() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Race Agency", "Race Artist", &[]).await;
    let done = played(&app, &p, 4).await;
    let path = format!("/api/v1/bookings/{done}/ratings");
    let send = || {
        p.promoter
            .req(&app, Method::POST, &path)
            .json(&json!({"overall": 4}))
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM booking_ratings")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

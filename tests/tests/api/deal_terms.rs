//! Exact deal terms (issue 23, 4): a percentage is read from the JSON
//! number's text, shown back with the same digits, stored as integer basis
//! points, and reaches the contract text and the Finance payload unrounded.
//! More than two decimals is a 422 naming the field, and writes nothing.
//! The migration converts stored decimals and lists what it cannot.

use chrono::Utc;
use kisum_tests::{BookingParties, TestApp, TestDb};
use reqwest::Method;
use serde_json::{Value, json};

fn offer_text(p: &BookingParties, percentage: &str, deposit: &str) -> String {
    let event = Utc::now().date_naive() + chrono::Duration::days(90);
    let due = Utc::now().date_naive() + chrono::Duration::days(30);
    let expires = Utc::now() + chrono::Duration::days(7);
    format!(
        r#"{{"artist_id": "{}", "promoter_company_id": "{}", "event_date": "{event}",
            "venue": {{"name": "Paradiso", "capacity": 1500}},
            "deal": {{"type": "versus", "currency": "EUR", "guarantee_amount": 1250000,
                     "percentage": {percentage}, "percentage_basis": "net",
                     "deposit_percent": {deposit}, "deposit_due_date": "{due}"}},
            "expires_at": "{}", "send": true}}"#,
        p.artist,
        p.promoter_company,
        expires.to_rfc3339(),
    )
}

/// Posts an offer body as written (no float in between): status and text.
async fn post_offer(app: &TestApp, p: &BookingParties, text: String) -> (u16, String) {
    let response = p
        .promoter
        .req(app, Method::POST, "/api/v1/offers")
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn raw_get(app: &TestApp, p: &BookingParties, path: &str) -> String {
    let response = p.promoter.req(app, Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn offers_of(app: &TestApp, p: &BookingParties) -> usize {
    let (status, list) = p.promoter.get(app, "/api/v1/offers").await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn percentages_round_trip_exactly_through_the_api_the_contract_and_the_stored_row() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Exact Agency", "Exact Artist", &[]).await;

    let (status, created) = post_offer(&app, &p, offer_text(&p, "12.35", "33.33")).await;
    assert_eq!(status, 201, "{created}");
    let offer: Value = serde_json::from_str(&created).unwrap();
    let id = offer["id"].as_str().unwrap().to_owned();
    // The response text itself carries the digits sent, not a float's.
    for text in [
        created,
        raw_get(&app, &p, &format!("/api/v1/offers/{id}")).await,
    ] {
        assert!(text.contains(r#""percentage":12.35"#), "{text}");
        assert!(text.contains(r#""deposit_percent":33.33"#), "{text}");
    }

    // Stored as integer basis points.
    let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    let stored: Value =
        sqlx::query_scalar("SELECT deal FROM offer_versions WHERE offer_id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored["percentage_bp"], 1235, "{stored}");
    assert_eq!(stored["deposit_bp"], 3333, "{stored}");
    assert!(stored.get("percentage").is_none(), "{stored}");

    // Into the contract text, through the booking.
    let (status, body) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/offers/{id}/accept"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, booking) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": id})),
        )
        .await;
    assert_eq!(status, 201, "{booking}");
    let booking = booking["id"].as_str().unwrap();
    let booking_text = raw_get(&app, &p, &format!("/api/v1/bookings/{booking}")).await;
    assert!(
        booking_text.contains(r#""percentage":12.35"#),
        "{booking_text}"
    );
    let templates = format!(
        "/api/v1/artists-companies/{}/contract-templates",
        p.agency_company
    );
    let template_body = "Share {{ deal.percentage }} ({{ deal.percentage_bps }}), deposit \
                         {{ deal.deposit_percent }} ({{ deal.deposit_percent_bps }}): {{ deal.deposit }}\n";
    let (status, template) = p
        .agency
        .send(
            &app,
            Method::POST,
            &templates,
            Some(json!({"name": "Exact", "body": template_body})),
        )
        .await;
    assert_eq!(status, 201, "{template}");
    let (status, contract) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking}/contracts"),
            Some(json!({"template_id": template["id"]})),
        )
        .await;
    assert_eq!(status, 201, "{contract}");
    let (_, versions) = p
        .agency
        .get(
            &app,
            &format!(
                "/api/v1/contracts/{}/versions",
                contract["id"].as_str().unwrap()
            ),
        )
        .await;
    // 33.33% of EUR 12,500.00 is EUR 4,166.25 exactly.
    assert_eq!(
        versions[0]["body"],
        "Share 12.35% (1235), deposit 33.33% (3333): EUR 4,166.25\n"
    );
}

#[tokio::test]
async fn three_decimals_are_refused_by_field_and_exponents_are_exact() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Strict Agency", "Strict Artist", &[]).await;

    for (percentage, deposit, field) in [
        ("12.35", "33.333", "deal.deposit_percent"),
        ("33.333", "10", "deal.percentage"),
        ("1.2345e1", "10", "deal.percentage"),
        ("100.01", "10", "deal.percentage"),
        ("12", "1e-3", "deal.deposit_percent"),
    ] {
        let (status, text) = post_offer(&app, &p, offer_text(&p, percentage, deposit)).await;
        assert_eq!(status, 422, "{percentage}/{deposit}: {text}");
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem["code"], "validation_failed", "{text}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{text}");
    }
    // Malformed or unbounded numbers are a bad body, never a panic.
    for percentage in ["\"12.35\"", "1e999999999", "1234567890123456789012"] {
        let (status, text) = post_offer(&app, &p, offer_text(&p, percentage, "10")).await;
        assert_eq!(status, 422, "{percentage}: {text}");
        assert!(text.contains("invalid_body"), "{text}");
    }
    assert_eq!(offers_of(&app, &p).await, 0, "nothing was written");

    let (status, text) = post_offer(&app, &p, offer_text(&p, "1e2", "1.235e1")).await;
    assert_eq!(status, 201, "{text}");
    assert!(text.contains(r#""percentage":100,"#), "{text}");
    assert!(text.contains(r#""deposit_percent":12.35,"#), "{text}");
    let (status, text) = post_offer(&app, &p, offer_text(&p, "100.00", "0")).await;
    assert_eq!(status, 201, "{text}");
    assert!(text.contains(r#""percentage":100,"#), "{text}");
    assert!(text.contains(r#""deposit_percent":0,"#), "{text}");
}

/// Rows written before the migration, in the old decimal form, are
/// converted; those that cannot be are left as they were and listed.
#[tokio::test]
async fn the_migration_converts_stored_percentages_and_lists_the_rest() {
    const EXACT: i64 = 20261206000100;
    let db = TestDb::empty().await;
    let pool = db.pool().await;
    shared::jobs::queue::migrator().run(&pool).await.unwrap();
    shared::db::MIGRATOR.run_to(EXACT - 1, &pool).await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    // Only the deal column matters here: no parties behind the rows.
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows = [
        (
            1,
            r#"{"type": "versus", "currency": "EUR", "percentage": 12.35, "deposit_percent": 33.33}"#,
        ),
        (
            2,
            r#"{"type": "flat", "currency": "EUR", "percentage": null, "deposit_percent": 50.0}"#,
        ),
        (
            3,
            r#"{"type": "door", "currency": "EUR", "percentage": 33.333, "deposit_percent": 1e1}"#,
        ),
        (
            4,
            r#"{"type": "plus", "currency": "EUR", "percentage": 120, "deposit_percent": "30"}"#,
        ),
    ];
    let offer = uuid::Uuid::now_v7();
    for (number, deal) in rows {
        sqlx::query(
            "INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
             VALUES ($1, $2, $3::jsonb, 'promoter', 'test')",
        )
        .bind(offer)
        .bind(number)
        .bind(deal)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let booking = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO bookings (id, offer_id, artist_id, agency_company_id, promoter_company_id,
                               event_date, deal, status, created_by)
         VALUES ($1, $2, $2, $2, $2, '2027-03-13', $3::jsonb, 'confirmed', 'test')",
    )
    .bind(booking)
    .bind(offer)
    .bind(r#"{"type": "versus", "currency": "EUR", "percentage": 85.5, "deposit_percent": 12.345}"#)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    shared::db::MIGRATOR.run(&pool).await.unwrap();

    let deals: Vec<Value> =
        sqlx::query_scalar("SELECT deal FROM offer_versions WHERE offer_id = $1 ORDER BY number")
            .bind(offer)
            .fetch_all(&pool)
            .await
            .unwrap();
    let keys = |d: &Value| {
        let mut k: Vec<String> = d.as_object().unwrap().keys().cloned().collect();
        k.retain(|k| k.contains("percent") || k.ends_with("_bp"));
        k.sort();
        k
    };
    assert_eq!(deals[0]["percentage_bp"], 1235);
    assert_eq!(deals[0]["deposit_bp"], 3333);
    assert_eq!(keys(&deals[0]), ["deposit_bp", "percentage_bp"]);
    assert_eq!(deals[1]["deposit_bp"], 5000);
    assert_eq!(
        keys(&deals[1]),
        ["deposit_bp"],
        "a null percentage is dropped"
    );
    assert_eq!(deals[2]["percentage"], json!(33.333), "left as it was");
    assert_eq!(deals[2]["deposit_bp"], 1000);
    assert_eq!(deals[3]["percentage"], 120);
    assert_eq!(deals[3]["deposit_percent"], "30");
    let stored: Value = sqlx::query_scalar("SELECT deal FROM bookings WHERE id = $1")
        .bind(booking)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored["percentage_bp"], 8550);
    assert_eq!(stored["deposit_percent"], json!(12.345));

    let listed: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name, row_id, field, reason FROM deal_percentages_unconverted
          ORDER BY table_name, row_id, field",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let o = |n: i32| format!("{offer}/{n}");
    assert_eq!(
        listed,
        [
            (
                "bookings".into(),
                booking.to_string(),
                "deal.deposit_percent".into(),
                "more than two decimals".into()
            ),
            (
                "offer_versions".into(),
                o(3),
                "deal.percentage".into(),
                "more than two decimals".into()
            ),
            (
                "offer_versions".into(),
                o(4),
                "deal.deposit_percent".into(),
                "not a number".into()
            ),
            (
                "offer_versions".into(),
                o(4),
                "deal.percentage".into(),
                "out of range 0-100".into()
            ),
        ]
    );

    // The application reads both forms exactly.
    for deal in deals.iter().take(3) {
        let read: shared::domain::booking::deal::StoredDeal =
            serde_json::from_value(deal.clone()).unwrap();
        let api = serde_json::to_string(&read.0).unwrap();
        assert!(!api.contains("_bp"), "{api}");
    }
    let odd: shared::domain::booking::deal::StoredDeal =
        serde_json::from_value(deals[2].clone()).unwrap();
    assert!(
        serde_json::to_string(&odd.0)
            .unwrap()
            .contains(r#""percentage":33.333"#)
    );
}

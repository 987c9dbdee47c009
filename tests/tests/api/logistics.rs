//! SPEC 5.6 booking logistics: the advance sheet (versioned, written whole
//! by the agency) and the promoter's proposals for its sections, with their
//! state machine, approvals written into the sheet, the one-open-proposal
//! rule under a race, who may do what, and the booking's activity.

use chrono::Utc;
use kisum_tests::{BookingParties, Org, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};

/// Two parties and a confirmed booking between them.
async fn booked(app: &TestApp, name: &str) -> (BookingParties, String) {
    let p = kisum_tests::booking_parties(app, &format!("{name} Agency"), name, &[]).await;
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": Utc::now().date_naive() + chrono::Duration::days(90),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 1_000_000},
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    });
    let booking = kisum_tests::confirmed_booking(app, &p, offer).await;
    (p, booking)
}

fn full_sheet() -> Value {
    json!({
        "contacts": [{"role": "promoter_rep", "name": "Pia Promoter", "email": "pia@promoter.test",
                      "phone": "+31 20 123 4567"}],
        "schedule": [{"label": "Load-in", "time": "14:00"}, {"label": "Doors", "time": "19:30", "notes": "early"}],
        "technical": {"stage_width_cm": 1200, "stage_depth_cm": 800, "stagehands": 4, "power": "3x63A"},
        "hospitality": {"dressing_rooms": 2, "buyouts": [{"description": "Dinner", "amount": 15000, "currency": "EUR"}]},
        "hotel": {"name": "Hotel V", "check_in": "2026-06-01", "check_out": "2026-06-02",
                  "rooms": [{"room_type": "double", "count": 3, "guest_names": ["A", "B"]}],
                  "confirmation_numbers": ["HV-1"]},
        "ground_transport": [{"kind": "van", "from": "Schiphol", "to": "Hotel V", "at": "2026-06-01T12:00:00"}],
        "guest_list": {"allocation": 20, "names": ["Guest One"]},
        "merch": {"seller": "venue", "artist_share_bp": 8000}
    })
}

/// The sheet: status, ETag and body.
async fn read_sheet(app: &TestApp, org: &Org, booking: &str) -> (u16, String, Value) {
    let response = org
        .req(
            app,
            Method::GET,
            &format!("/api/v1/bookings/{booking}/logistics"),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, etag, response.json().await.unwrap())
}

async fn put_sheet(
    app: &TestApp,
    org: &Org,
    booking: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = org
        .req(
            app,
            Method::PUT,
            &format!("/api/v1/bookings/{booking}/logistics"),
        )
        .json(body);
    if let Some(v) = if_match {
        request = request.header("if-match", v);
    }
    request.send().await.unwrap()
}

/// A POST with an optional `If-Match`.
async fn post(
    app: &TestApp,
    org: &Org,
    path: &str,
    if_match: Option<i64>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = org.req(app, Method::POST, path);
    if let Some(v) = if_match {
        request = request.header("if-match", format!("\"{v}\""));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn submit(app: &TestApp, p: &BookingParties, booking: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/v1/bookings/{booking}/logistics-proposals");
    p.promoter.send(app, Method::POST, &path, Some(body)).await
}

fn hotel_content() -> Value {
    json!({"name": "Hotel Arena", "address": "'s-Gravesandestraat 55", "check_in": "2026-06-01",
           "check_out": "2026-06-03", "rooms": [{"room_type": "single", "count": 5, "guest_names": []}]})
}

async fn activity_of(app: &TestApp, org: &Org, booking: &str) -> Vec<(String, String, String)> {
    let (status, trail) = org
        .get(app, &format!("/api/v1/bookings/{booking}/activity"))
        .await;
    assert_eq!(status, 200, "{trail}");
    trail
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["subject_type"].as_str().unwrap().to_owned(),
                a["subject_id"].as_str().unwrap().to_owned(),
                a["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_sheet_starts_empty_is_written_whole_and_versioned() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Sheet").await;

    let (status, etag, empty) = read_sheet(&app, &p.promoter, &booking).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(etag, "\"0\"");
    assert_eq!(empty["version"], 0);
    assert_eq!(empty["sheet"]["contacts"], json!([]));
    assert!(empty["updated_at"].is_null());

    // The promoter proposes instead of writing.
    let response = put_sheet(&app, &p.promoter, &booking, None, &full_sheet()).await;
    let body = problem(response, 403, "forbidden").await;
    assert!(
        body["detail"].as_str().unwrap().contains("propos"),
        "{body}"
    );

    // A version the sheet does not have yet is stale.
    let response = put_sheet(&app, &p.agency, &booking, Some("\"1\""), &full_sheet()).await;
    problem(response, 412, "stale_version").await;

    let response = put_sheet(&app, &p.agency, &booking, Some("\"0\""), &full_sheet()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let saved: Value = response.json().await.unwrap();
    assert_eq!(saved["version"], 1);

    let (_, etag, read) = read_sheet(&app, &p.promoter, &booking).await;
    assert_eq!(etag, "\"1\"");
    assert_eq!(read["sheet"], saved["sheet"]);
    assert_eq!(read["sheet"]["hotel"]["rooms"][0]["count"], 3);
    assert_eq!(read["sheet"]["merch"]["artist_share_bp"], 8000);
    assert_eq!(read["sheet"]["technical"]["stage_width_cm"], 1200);
    assert_eq!(
        read["sheet"]["ground_transport"][0]["at"],
        "2026-06-01T12:00:00"
    );

    // A stale If-Match changes nothing.
    let mut changed = full_sheet();
    changed["hotel"]["name"] = json!("Other Hotel");
    let response = put_sheet(&app, &p.agency, &booking, Some("\"0\""), &changed).await;
    problem(response, 412, "stale_version").await;
    let (_, etag, after) = read_sheet(&app, &p.agency, &booking).await;
    assert_eq!(etag, "\"1\"");
    assert_eq!(after["sheet"]["hotel"]["name"], "Hotel V");

    // The whole sheet is replaced: left-out sections are empty again.
    let response = put_sheet(
        &app,
        &p.agency,
        &booking,
        Some("\"1\""),
        &json!({"merch": {"seller": "crew"}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let (_, etag, after) = read_sheet(&app, &p.agency, &booking).await;
    assert_eq!(etag, "\"2\"");
    assert_eq!(after["sheet"]["hotel"]["rooms"], json!([]));
    assert_eq!(after["sheet"]["merch"]["seller"], "crew");

    let trail = activity_of(&app, &p.promoter, &booking).await;
    let updates = trail
        .iter()
        .filter(|(s, id, a)| s == "booking" && id == &booking && a == "logistics_updated")
        .count();
    assert_eq!(updates, 2, "{trail:?}");
}

#[tokio::test]
async fn bad_sheets_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Bad Sheet").await;
    let response = put_sheet(&app, &p.agency, &booking, None, &full_sheet()).await;
    assert_eq!(response.status(), 200);
    let (_, _, before) = read_sheet(&app, &p.agency, &booking).await;

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"hotel": {"rooms": [{"room_type": "double", "count": 0}]}}),
            "hotel.rooms[0].count",
        ),
        (
            json!({"hospitality": {"buyouts": [{"description": "Dinner", "amount": 100, "currency": "XYZ"}]}}),
            "hospitality.buyouts[0].currency",
        ),
        (
            json!({"hospitality": {"buyouts": [{"description": "Dinner", "amount": 100, "currency": "euro"}]}}),
            "hospitality.buyouts[0].currency",
        ),
        (
            json!({"merch": {"artist_share_bp": 10_001}}),
            "merch.artist_share_bp",
        ),
        (
            json!({"hotel": {"check_in": "2026-06-02", "check_out": "2026-06-01"}}),
            "hotel.check_out",
        ),
        (
            json!({"schedule": [{"label": "Doors", "time": "7pm"}]}),
            "schedule[0].time",
        ),
        (
            json!({"contacts": [{"role": "other", "name": " ", "email": "nope"}]}),
            "contacts[0].name",
        ),
        (
            json!({"technical": {"stage_width_cm": 0}}),
            "technical.stage_width_cm",
        ),
        (
            json!({"guest_list": {"names": ["x".repeat(201)]}}),
            "guest_list.names[0]",
        ),
    ];
    for (body, field) in cases {
        let response = put_sheet(&app, &p.agency, &booking, None, &body).await;
        let answer = problem(response, 422, "validation_failed").await;
        assert!(
            fields(&answer).iter().any(|f| f == field),
            "{field} in {answer}"
        );
    }
    for body in [
        json!({"hotel": {"stars": 5}}),
        json!({"surprise": true}),
        json!({"contacts": [{"role": "boss", "name": "X"}]}),
        json!({"technical": {"stage_width_cm": 12.5}}),
        json!([]),
    ] {
        let response = put_sheet(&app, &p.agency, &booking, None, &body).await;
        problem(response, 422, "invalid_body").await;
    }
    let response = p
        .agency
        .req(
            &app,
            Method::PUT,
            &format!("/api/v1/bookings/{booking}/logistics"),
        )
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = p
        .agency
        .req(&app, Method::PUT, "/api/v1/bookings/not-a-uuid/logistics")
        .json(&full_sheet())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (_, etag, after) = read_sheet(&app, &p.agency, &booking).await;
    assert_eq!(etag, "\"1\"");
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_proposal_is_revised_after_a_request_for_changes_and_approved_into_the_sheet() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Proposal").await;
    let response = put_sheet(&app, &p.agency, &booking, None, &full_sheet()).await;
    assert_eq!(response.status(), 200);

    let (status, first) = submit(
        &app,
        &p,
        &booking,
        json!({"section": "hotel", "content": hotel_content(), "note": "close to the venue"}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "submitted");
    assert_eq!(first["section"], "hotel");
    assert_eq!(first["version"], 1);
    let first_id = first["id"].as_str().unwrap().to_owned();
    let proposal = |id: &str, tail: &str| format!("/api/v1/logistics-proposals/{id}{tail}");

    // A request for changes needs a comment.
    let response = post(
        &app,
        &p.agency,
        &proposal(&first_id, "/request-changes"),
        None,
        Some(json!({})),
    )
    .await;
    problem(response, 422, "invalid_body").await;
    let response = post(
        &app,
        &p.agency,
        &proposal(&first_id, "/request-changes"),
        None,
        Some(json!({"comment": "  "})),
    )
    .await;
    let answer = problem(response, 422, "validation_failed").await;
    assert_eq!(fields(&answer), ["comment"]);
    let response = post(
        &app,
        &p.agency,
        &proposal(&first_id, "/request-changes"),
        Some(1),
        Some(json!({"comment": "We need doubles"})),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let asked: Value = response.json().await.unwrap();
    assert_eq!(asked["status"], "changes_requested");
    assert_eq!(asked["comment"], "We need doubles");

    // It cannot be approved now; the promoter revises it.
    let response = post(
        &app,
        &p.agency,
        &proposal(&first_id, "/approve"),
        None,
        None,
    )
    .await;
    problem(response, 409, "invalid_transition").await;
    let mut revised = hotel_content();
    revised["rooms"] = json!([{"room_type": "double", "count": 3, "guest_names": ["Ann", "Bo"]}]);
    let response = post(
        &app,
        &p.promoter,
        &proposal(&first_id, "/revise"),
        Some(1),
        Some(json!({"content": revised})),
    )
    .await;
    problem(response, 412, "stale_version").await;
    let response = post(
        &app,
        &p.promoter,
        &proposal(&first_id, "/revise"),
        Some(2),
        Some(json!({"content": revised})),
    )
    .await;
    assert_eq!(response.status(), 201);
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["status"], "submitted");
    assert_eq!(second["section"], "hotel");
    assert_eq!(second["supersedes_id"], first_id.as_str());
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (_, old) = p.promoter.get(&app, &proposal(&first_id, "")).await;
    assert_eq!(old["status"], "superseded");
    let response = post(
        &app,
        &p.promoter,
        &proposal(&first_id, "/revise"),
        None,
        Some(json!({"content": revised})),
    )
    .await;
    problem(response, 409, "invalid_transition").await;

    // Approval writes the section into the sheet, in the same step.
    let (_, etag, before) = read_sheet(&app, &p.agency, &booking).await;
    assert_eq!(etag, "\"1\"");
    let response = post(
        &app,
        &p.agency,
        &proposal(&second_id, "/approve"),
        Some(1),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    let approved: Value = response.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    assert!(approved["decided_at"].is_string());
    let (_, etag, after) = read_sheet(&app, &p.promoter, &booking).await;
    assert_eq!(etag, "\"2\"");
    assert_eq!(after["version"], 2);
    assert_eq!(after["sheet"]["hotel"]["name"], "Hotel Arena");
    assert_eq!(
        after["sheet"]["hotel"]["rooms"][0]["guest_names"],
        json!(["Ann", "Bo"])
    );
    assert_eq!(after["sheet"]["hotel"]["confirmation_numbers"], json!([]));
    // Other sections are untouched.
    assert_eq!(after["sheet"]["merch"], before["sheet"]["merch"]);
    assert_eq!(after["sheet"]["contacts"], before["sheet"]["contacts"]);

    // The list shows both, newest first, to either party.
    let list = format!("/api/v1/bookings/{booking}/logistics-proposals");
    let (status, page) = p.agency.get(&app, &list).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second_id.as_str(), first_id.as_str()]);
    let (_, page) = p.promoter.get(&app, &format!("{list}?limit=1")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["next_cursor"].is_string());

    // The booking's activity tells the story.
    let trail = activity_of(&app, &p.promoter, &booking).await;
    let steps: Vec<(&str, &str)> = trail
        .iter()
        .filter(|(s, _, _)| s == "proposal")
        .map(|(_, id, a)| (id.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (first_id.as_str(), "submitted"),
            (first_id.as_str(), "changes_requested"),
            (first_id.as_str(), "superseded"),
            (second_id.as_str(), "revised"),
            (second_id.as_str(), "approved"),
        ]
    );
    let updates = trail
        .iter()
        .filter(|(_, _, a)| a == "logistics_updated")
        .count();
    assert_eq!(updates, 2, "{trail:?}");
}

#[tokio::test]
async fn a_rejection_needs_a_comment_and_closes_the_section_for_a_new_proposal() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Reject").await;
    let technical =
        json!({"section": "technical", "content": {"stage_width_cm": 1000, "backline": "drums"}});
    let (status, proposal) = submit(&app, &p, &booking, technical.clone()).await;
    assert_eq!(status, 201, "{proposal}");
    let id = proposal["id"].as_str().unwrap();
    let reject = format!("/api/v1/logistics-proposals/{id}/reject");

    let response = post(&app, &p.agency, &reject, None, Some(json!({}))).await;
    problem(response, 422, "invalid_body").await;
    let response = post(
        &app,
        &p.agency,
        &reject,
        None,
        Some(json!({"comment": "x".repeat(2001)})),
    )
    .await;
    let answer = problem(response, 422, "validation_failed").await;
    assert_eq!(fields(&answer), ["comment"]);
    let (_, unchanged) = p
        .agency
        .get(&app, &format!("/api/v1/logistics-proposals/{id}"))
        .await;
    assert_eq!(unchanged["status"], "submitted");
    assert_eq!(unchanged["version"], 1);

    let response = post(
        &app,
        &p.agency,
        &reject,
        Some(3),
        Some(json!({"comment": "No"})),
    )
    .await;
    problem(response, 412, "stale_version").await;
    let response = post(
        &app,
        &p.agency,
        &reject,
        None,
        Some(json!({"comment": "Stage too small"})),
    )
    .await;
    assert_eq!(response.status(), 200);
    let rejected: Value = response.json().await.unwrap();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["comment"], "Stage too small");
    let response = post(
        &app,
        &p.agency,
        &format!("/api/v1/logistics-proposals/{id}/approve"),
        None,
        None,
    )
    .await;
    problem(response, 409, "invalid_transition").await;
    let response = post(
        &app,
        &p.promoter,
        &format!("/api/v1/logistics-proposals/{id}/revise"),
        None,
        Some(json!({"content": {"stage_width_cm": 1400}})),
    )
    .await;
    problem(response, 409, "invalid_transition").await;

    // The sheet is untouched; the section is open for a new proposal.
    let (_, etag, sheet) = read_sheet(&app, &p.agency, &booking).await;
    assert_eq!(etag, "\"0\"");
    assert!(sheet["sheet"]["technical"]["stage_width_cm"].is_null());
    let (status, again) = submit(&app, &p, &booking, technical).await;
    assert_eq!(status, 201, "{again}");

    let trail = activity_of(&app, &p.agency, &booking).await;
    assert!(
        trail
            .iter()
            .any(|(s, i, a)| s == "proposal" && i == id && a == "rejected"),
        "{trail:?}"
    );
}

#[tokio::test]
async fn bad_proposals_are_refused_naming_the_content_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Bad Proposal").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"section": "hotel", "content": [{"kind": "van", "from": "A", "to": "B"}]}),
            "content",
        ),
        (
            json!({"section": "transport", "content": hotel_content()}),
            "content",
        ),
        (
            json!({"section": "hotel", "content": {"stars": 5}}),
            "content",
        ),
        (
            json!({"section": "hotel", "content": {"rooms": [{"room_type": "double", "count": 101}]}}),
            "content.rooms[0].count",
        ),
        (
            json!({"section": "hotel", "content": {"check_in": "2026-06-02", "check_out": "2026-05-01"}}),
            "content.check_out",
        ),
        (
            json!({"section": "hospitality", "content": {"buyouts": [{"description": "Drinks", "amount": 1, "currency": "QQQ"}]}}),
            "content.buyouts[0].currency",
        ),
        (
            json!({"section": "transport", "content": [{"kind": "van", "from": "", "to": "B"}]}),
            "content[0].from",
        ),
        (
            json!({"section": "technical", "content": {}, "note": "x".repeat(2001)}),
            "note",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = submit(&app, &p, &booking, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {answer}");
        assert_eq!(answer["code"], "validation_failed", "{answer}");
        assert!(
            fields(&answer).iter().any(|f| f == field),
            "{field} in {answer}"
        );
    }
    for body in [
        json!({"section": "catering", "content": {}}),
        json!({"section": "hotel", "content": {}, "extra": 1}),
        json!({"section": "hotel"}),
    ] {
        let (status, answer) = submit(&app, &p, &booking, body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["code"], "invalid_body", "{answer}");
    }
    let list = format!("/api/v1/bookings/{booking}/logistics-proposals");
    let (_, page) = p.promoter.get(&app, &list).await;
    assert_eq!(page["items"], json!([]));

    // A bad revision leaves the proposal as it was.
    let (_, proposal) = submit(
        &app,
        &p,
        &booking,
        json!({"section": "hotel", "content": hotel_content()}),
    )
    .await;
    let id = proposal["id"].as_str().unwrap();
    let response = post(
        &app,
        &p.promoter,
        &format!("/api/v1/logistics-proposals/{id}/revise"),
        None,
        Some(json!({"content": {"rooms": [{"room_type": "double", "count": 0}]}})),
    )
    .await;
    let answer = problem(response, 422, "validation_failed").await;
    assert_eq!(fields(&answer), ["content.rooms[0].count"]);
    let (_, page) = p.promoter.get(&app, &list).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["status"], "submitted");
    assert_eq!(page["items"][0]["version"], 1);
}

#[tokio::test]
async fn one_open_proposal_per_section_even_under_a_race() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Race").await;
    let body = |width: i64| json!({"section": "technical", "content": {"stage_width_cm": width}});
    let (a, b) = tokio::join!(
        submit(&app, &p, &booking, body(1000)),
        submit(&app, &p, &booking, body(1100)),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let loser = if a.0 == 409 { a.1 } else { b.1 };
    assert_eq!(loser["code"], "proposal_open", "{loser}");

    let (status, again) = submit(&app, &p, &booking, body(1200)).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["code"], "proposal_open");
    // Past the friendly check, the database refuses a second open proposal,
    // and the refusal is the same 409.
    let err = sqlx::query(
        "INSERT INTO logistics_proposals (id, booking_id, section, content, status, created_by)
         VALUES ($1, $2::uuid, 'technical', '{}', 'submitted', 'racer')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&booking)
    .execute(&app.pool)
    .await
    .unwrap_err();
    match shared::DomainError::from(err) {
        shared::DomainError::Conflict { code, .. } => {
            assert_eq!(code, shared::Code::ProposalOpen);
        }
        other => panic!("{other:?}"),
    }
    // Another section is free.
    let (status, transport) = submit(
        &app,
        &p,
        &booking,
        json!({"section": "transport", "content": [{"kind": "shuttle", "from": "AMS", "to": "Venue"}]}),
    )
    .await;
    assert_eq!(status, 201, "{transport}");
    let list = format!("/api/v1/bookings/{booking}/logistics-proposals");
    let (_, page) = p.agency.get(&app, &list).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn each_side_does_only_its_part_and_outsiders_see_nothing() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Roles").await;
    let outsider = Org::new();
    let (status, proposal) = submit(
        &app,
        &p,
        &booking,
        json!({"section": "hospitality", "content": {"dressing_rooms": 1}}),
    )
    .await;
    assert_eq!(status, 201, "{proposal}");
    let id = proposal["id"].as_str().unwrap();
    let proposal_path = |tail: &str| format!("/api/v1/logistics-proposals/{id}{tail}");
    let comment = json!({"comment": "no"});

    // The promoter does not answer its own proposal.
    for (tail, body) in [
        ("/approve", None),
        ("/reject", Some(comment.clone())),
        ("/request-changes", Some(comment.clone())),
    ] {
        let response = post(&app, &p.promoter, &proposal_path(tail), None, body).await;
        problem(response, 403, "forbidden").await;
    }
    // The agency neither submits nor revises.
    let path = format!("/api/v1/bookings/{booking}/logistics-proposals");
    let (status, answer) = p
        .agency
        .send(
            &app,
            Method::POST,
            &path,
            Some(json!({"section": "hotel", "content": {}})),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("the agency cannot submit as promoter"),
        "{answer}"
    );
    let response = post(
        &app,
        &p.agency,
        &proposal_path("/revise"),
        None,
        Some(json!({"content": {"dressing_rooms": 2}})),
    )
    .await;
    problem(response, 403, "forbidden").await;

    // A viewer of the agency reads but does not write or approve.
    let viewer = Org {
        id: p.agency.id,
        token: kisum_tests::Token::member(p.agency.id, "viewer").hs256(),
    };
    let (status, _) = viewer.get(&app, &proposal_path("")).await;
    assert_eq!(status, 200);
    let response = post(&app, &viewer, &proposal_path("/approve"), None, None).await;
    problem(response, 403, "permission_denied").await;
    let response = put_sheet(&app, &viewer, &booking, None, &json!({})).await;
    problem(response, 403, "permission_denied").await;

    // A third company: 404 on every route, like an unknown id.
    let sheet = format!("/api/v1/bookings/{booking}/logistics");
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, sheet.clone(), None),
        (Method::PUT, sheet, Some(json!({}))),
        (Method::GET, path.clone(), None),
        (
            Method::POST,
            path,
            Some(json!({"section": "technical", "content": {}})),
        ),
        (Method::GET, proposal_path(""), None),
        (
            Method::POST,
            proposal_path("/revise"),
            Some(json!({"content": {}})),
        ),
        (Method::POST, proposal_path("/approve"), None),
        (
            Method::POST,
            proposal_path("/reject"),
            Some(comment.clone()),
        ),
        (
            Method::POST,
            proposal_path("/request-changes"),
            Some(comment.clone()),
        ),
    ];
    for (method, path, body) in calls {
        let mut request = outsider.req(&app, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        problem(response, 404, "not_found").await;
    }

    // Nothing changed: still one submitted proposal, an empty sheet.
    let (_, unchanged) = p.promoter.get(&app, &proposal_path("")).await;
    assert_eq!(unchanged["status"], "submitted");
    assert_eq!(unchanged["version"], 1);
    let (_, etag, _) = read_sheet(&app, &p.agency, &booking).await;
    assert_eq!(etag, "\"0\"");
}

#[tokio::test]
async fn a_cancelled_booking_takes_no_logistics() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Cancelled").await;
    let (status, proposal) = submit(
        &app,
        &p,
        &booking,
        json!({"section": "hotel", "content": hotel_content()}),
    )
    .await;
    assert_eq!(status, 201, "{proposal}");
    let id = proposal["id"].as_str().unwrap();
    let (status, body) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking}/cancel"),
            Some(json!({"reason": "storm"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let response = put_sheet(&app, &p.agency, &booking, None, &full_sheet()).await;
    problem(response, 409, "booking_not_confirmed").await;
    let (status, answer) = submit(
        &app,
        &p,
        &booking,
        json!({"section": "technical", "content": {}}),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["code"], "booking_not_confirmed");
    let response = post(
        &app,
        &p.agency,
        &format!("/api/v1/logistics-proposals/{id}/approve"),
        None,
        None,
    )
    .await;
    problem(response, 409, "booking_not_confirmed").await;

    // Both still read what there is.
    let (status, etag, _) = read_sheet(&app, &p.promoter, &booking).await;
    assert_eq!((status, etag.as_str()), (200, "\"0\""));
    let (_, still) = p
        .agency
        .get(&app, &format!("/api/v1/logistics-proposals/{id}"))
        .await;
    assert_eq!(still["status"], "submitted");
}

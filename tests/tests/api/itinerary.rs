//! SPEC 5.6, itinerary: items with local times in IANA zones and their UTC
//! instants, the 06:00 day boundary, If-Match, who sees what (the artist
//! side everything, a promoter the shared items of its show days, anyone
//! else nothing), day sheets as JSON and HTML, and the RFC 5545 feed read
//! back by an independent parser (Python's `icalendar`), also through
//! secret-URL subscriptions: one per member, expiring, and closed to a
//! member who left the org.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use kisum_tests::fakes::FakeAuth;
use kisum_tests::{BookingParties, Org, TestApp, TestDb, Token, problem};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const BERLIN: i64 = 2950159;
const LONDON: i64 = 2643743;
/// A Saturday; the clocks go back in Berlin the night after (31 October).
const SHOW: &str = "2027-10-30";
const TRAVEL: &str = "2027-10-31";

/// A stop to seed: kind, date, city and the booking of a show.
struct Stop<'a> {
    kind: &'a str,
    date: &'a str,
    city_id: i64,
    booking_id: Option<&'a str>,
}

/// A tour of the parties' artist kept by their agency, with its stops,
/// made through the tour routes.
async fn seed_tour(app: &TestApp, p: &BookingParties, name: &str, stops: &[Stop<'_>]) -> String {
    let body = json!({"artist_id": p.artist, "company_id": p.agency_company, "name": name,
                      "travel_mode": "bus"});
    let (status, tour) = p
        .agency
        .send(app, Method::POST, "/api/v1/tours", Some(body))
        .await;
    assert_eq!(status, 201, "{tour}");
    let tour = tour["id"].as_str().unwrap().to_owned();
    for (position, stop) in stops.iter().enumerate() {
        let body = match stop.booking_id {
            Some(booking) => {
                json!({"kind": stop.kind, "booking_id": booking, "position": position + 1})
            }
            None => json!({"kind": stop.kind, "date": stop.date, "city_id": stop.city_id,
                           "position": position + 1}),
        };
        let (status, added) = p
            .agency
            .send(
                app,
                Method::POST,
                &format!("/api/v1/tours/{tour}/stops"),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{added}");
        assert_eq!(added["date"], stop.date, "{added}");
        assert_eq!(added["city"]["id"], stop.city_id, "{added}");
    }
    tour
}

/// Two parties with a confirmed booking on `SHOW` at a Berlin venue.
async fn booked(app: &TestApp) -> (BookingParties, String) {
    let p = kisum_tests::booking_parties(app, "Road Agency", "Road Artist", &[]).await;
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": SHOW,
        "venue": {"name": "Columbiahalle", "city_id": BERLIN, "capacity": 3500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 1_000_000},
        "expires_at": chrono::Utc::now() + chrono::Duration::days(7), "send": true,
    });
    let booking = kisum_tests::confirmed_booking(app, &p, offer).await;
    (p, booking)
}

/// The parties, their booking and a tour with the show in Berlin and a
/// travel day to London.
async fn touring(app: &TestApp) -> (BookingParties, String, String) {
    let (p, booking) = booked(app).await;
    let stops = [
        Stop {
            kind: "show",
            date: SHOW,
            city_id: BERLIN,
            booking_id: Some(&booking),
        },
        Stop {
            kind: "travel",
            date: TRAVEL,
            city_id: LONDON,
            booking_id: None,
        },
    ];
    let tour = seed_tour(app, &p, "Fall Tour", &stops).await;
    (p, booking, tour)
}

async fn add_item(app: &TestApp, org: &Org, tour: &str, body: Value) -> Value {
    let (status, item) = org
        .send(
            app,
            Method::POST,
            &format!("/api/v1/tours/{tour}/itinerary"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{item}");
    item
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(app: &TestApp, org: &Org, tour: &str, query: &str) -> Value {
    let (status, page) = org
        .get(app, &format!("/api/v1/tours/{tour}/itinerary{query}"))
        .await;
    assert_eq!(status, 200, "{page}");
    page
}

#[tokio::test]
async fn itinerary_items_are_created_listed_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let (p, _, tour) = touring(&app).await;
    let agency = &p.agency;

    // No zone given: the city of the day's stop (Berlin) decides it.
    let set = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "set", "title": "Headline set", "starts_at_local": "2027-10-30T21:00",
        "ends_at_local": "2027-10-30T22:30", "visibility": "shared"}),
    )
    .await;
    assert_eq!(set["timezone"], "Europe/Berlin");
    assert_eq!(set["end_timezone"], "Europe/Berlin");
    assert_eq!(set["day"], SHOW);
    assert_eq!(set["starts_at"], "2027-10-30T19:00:00Z");
    assert_eq!(set["ends_at"], "2027-10-30T20:30:00Z");
    assert_eq!(set["starts_at_local"], "2027-10-30T21:00:00");
    assert_eq!(
        (set["version"].as_i64(), set["sequence"].as_i64()),
        (Some(1), Some(0))
    );

    // A 01:30 bus belongs to the show day before it, in that day's zone.
    let bus = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "travel", "title": "Night bus", "starts_at_local": "2027-10-31T01:30",
        "ends_at_local": "2027-10-31T09:00", "end_timezone": "Europe/London"}),
    )
    .await;
    assert_eq!(bus["day"], SHOW, "{bus}");
    assert_eq!(bus["timezone"], "Europe/Berlin");
    assert_eq!(bus["starts_at"], "2027-10-30T23:30:00Z");
    assert_eq!(bus["ends_at"], "2027-10-31T09:00:00Z");
    let press = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "press", "title": "Radio", "precision": "tbd", "day": TRAVEL}),
    )
    .await;
    assert_eq!(press["timezone"], "Europe/London", "{press}");
    assert!(press["starts_at"].is_null());

    let page = list(&app, agency, &tour, "").await;
    assert_eq!(ids(&page), vec![id(&set), id(&bus), id(&press)]);
    let page = list(&app, agency, &tour, &format!("?day={TRAVEL}")).await;
    assert_eq!(ids(&page), vec![id(&press)]);
    let first = list(&app, agency, &tour, "?limit=2").await;
    assert_eq!(ids(&first), vec![id(&set), id(&bus)]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = list(&app, agency, &tour, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&rest), vec![id(&press)]);
    assert!(rest["next_cursor"].is_null());

    // If-Match: a stale version is 412 and changes nothing.
    let path = format!("/api/v1/itinerary-items/{}", id(&set));
    let stale = agency
        .req(&app, Method::PATCH, &path)
        .header("if-match", "\"7\"")
        .json(&json!({"title": "Stale"}))
        .send()
        .await
        .unwrap();
    problem(stale, 412, "stale_version").await;
    let response = agency
        .req(&app, Method::PATCH, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "Headline set (long)", "ends_at_local": "2027-10-30T23:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["title"], "Headline set (long)");
    assert_eq!(changed["ends_at"], "2027-10-30T21:00:00Z");
    assert_eq!(changed["starts_at"], set["starts_at"]);
    assert_eq!(
        (changed["version"].as_i64(), changed["sequence"].as_i64()),
        (Some(2), Some(1))
    );

    // Moving the bus past 06:00 moves it to the next day.
    let (status, moved) = agency
        .send(
            &app,
            Method::PATCH,
            &format!("/api/v1/itinerary-items/{}", id(&bus)),
            Some(json!({"starts_at_local": "2027-10-31T07:00"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["day"], TRAVEL);

    let stale = agency
        .req(&app, Method::DELETE, &path)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(stale, 412, "stale_version").await;
    let response = agency
        .req(&app, Method::DELETE, &path)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let page = list(&app, agency, &tour, "").await;
    assert_eq!(ids(&page), vec![id(&bus), id(&press)]);
    let gone = agency
        .req(&app, Method::PATCH, &path)
        .json(&json!({"title": "Back"}))
        .send()
        .await
        .unwrap();
    problem(gone, 404, "not_found").await;
}

#[tokio::test]
async fn bad_input_on_every_route_changes_nothing() {
    let app = TestApp::spawn().await;
    let (p, _, tour) = touring(&app).await;
    let agency = &p.agency;
    let item = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "doors", "title": "Doors", "starts_at_local": "2027-10-30T19:00"}),
    )
    .await;
    let before = list(&app, agency, &tour, "").await;

    let base = json!({"kind": "set", "title": "Set", "starts_at_local": "2027-10-30T21:00"});
    let with = |patch: Value| {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        body
    };
    let items = format!("/api/v1/tours/{tour}/itinerary");
    let item_path = format!("/api/v1/itinerary-items/{}", id(&item));
    let cases: Vec<(Method, String, Value, u16, Option<&str>)> = vec![
        (
            Method::POST,
            items.clone(),
            with(json!({"timezone": "Mars/Olympus_Mons"})),
            422,
            Some("timezone"),
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"end_timezone": "UTC+2"})),
            422,
            Some("end_timezone"),
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"starts_at_local": "2150-10-30T21:00", "timezone": "Europe/Berlin"})),
            422,
            Some("starts_at_local"),
        ),
        // Clocks skip 02:00-03:00 in Berlin on 28 March 2027.
        (
            Method::POST,
            items.clone(),
            with(json!({"starts_at_local": "2027-03-28T02:30", "timezone": "Europe/Berlin"})),
            422,
            Some("starts_at_local"),
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"ends_at_local": "2027-10-30T20:59"})),
            422,
            Some("ends_at_local"),
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"starts_at_local": "2027-13-40T10:00"})),
            422,
            Some("starts_at_local"),
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"starts_at_local": "2027-10-30T21:00+02:00"})),
            422,
            Some("starts_at_local"),
        ),
        // No stop that day to take a zone from.
        (
            Method::POST,
            items.clone(),
            with(json!({"starts_at_local": "2027-11-20T21:00"})),
            422,
            Some("timezone"),
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"precision": "tbd", "starts_at_local": null})),
            422,
            Some("day"),
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"kind": "party"})),
            422,
            None,
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"colour": "red"})),
            422,
            None,
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"day": "2027-02-30", "precision": "tbd"})),
            422,
            None,
        ),
        (
            Method::POST,
            items.clone(),
            with(json!({"title": " "})),
            422,
            Some("title"),
        ),
        (
            Method::PATCH,
            item_path.clone(),
            json!({"timezone": "Nowhere/Land"}),
            422,
            Some("timezone"),
        ),
        (
            Method::PATCH,
            item_path.clone(),
            json!({"starts_at_local": "2027-03-28T02:15", "timezone": "Europe/Berlin"}),
            422,
            Some("starts_at_local"),
        ),
        (
            Method::PATCH,
            item_path.clone(),
            json!({"ends_at_local": "2027-10-30T18:00"}),
            422,
            Some("ends_at_local"),
        ),
        (
            Method::PATCH,
            item_path.clone(),
            json!({"kind": "party"}),
            422,
            None,
        ),
        (
            Method::PATCH,
            item_path.clone(),
            json!({"colour": "red"}),
            422,
            None,
        ),
        (
            Method::PATCH,
            item_path.clone(),
            json!({"starts_at_local": null}),
            422,
            Some("starts_at_local"),
        ),
    ];
    for (method, path, body, status, field) in cases {
        let (got, answer) = agency
            .send(&app, method.clone(), &path, Some(body.clone()))
            .await;
        assert_eq!(got, status, "{method} {path} {body}: {answer}");
        if let Some(field) = field {
            let fields: Vec<&str> = answer["errors"]
                .as_array()
                .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
                .unwrap_or_default();
            assert!(fields.contains(&field), "{body}: {field} in {answer}");
        }
    }
    for (path, status) in [
        (
            format!("/api/v1/tours/{tour}/itinerary?day=2027-02-30"),
            400,
        ),
        (format!("/api/v1/tours/{tour}/itinerary?limit=0"), 422),
        (format!("/api/v1/tours/{tour}/itinerary?cursor=nope"), 422),
        (format!("/api/v1/tours/{tour}/day-sheets/2027-02-30"), 400),
        (
            format!("/api/v1/tours/{tour}/day-sheets/{SHOW}?format=pdf"),
            400,
        ),
        ("/api/v1/tours/not-a-uuid/itinerary.ics".to_owned(), 400),
    ] {
        let (got, answer) = agency.get(&app, &path).await;
        assert_eq!(got, status, "{path}: {answer}");
    }
    let after = list(&app, agency, &tour, "").await;
    assert_eq!(before, after);
}

async fn sheet(app: &TestApp, org: &Org, tour: &str, day: &str) -> (u16, Value) {
    org.get(app, &format!("/api/v1/tours/{tour}/day-sheets/{day}"))
        .await
}

#[tokio::test]
async fn promoters_see_shared_items_of_their_show_days_and_others_nothing() {
    let app = TestApp::spawn().await;
    let (p, booking, tour) = touring(&app).await;
    let (agency, promoter, outsider) = (&p.agency, &p.promoter, &Org::new());
    let shared = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "set", "title": "<script>alert(1)</script>", "starts_at_local": "2027-10-30T21:00",
        "visibility": "shared", "notes": "Stage left & right"}),
    )
    .await;
    let private = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "hotel", "title": "Hotel (band only)", "starts_at_local": "2027-10-30T23:30"}),
    )
    .await;
    let next_day = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "press", "title": "London radio", "starts_at_local": "2027-10-31T11:00",
        "visibility": "shared"}),
    )
    .await;

    let page = list(&app, agency, &tour, "").await;
    assert_eq!(ids(&page), vec![id(&shared), id(&private), id(&next_day)]);
    let page = list(&app, promoter, &tour, "").await;
    assert_eq!(ids(&page), vec![id(&shared)]);
    let page = list(&app, promoter, &tour, &format!("?day={TRAVEL}")).await;
    assert!(ids(&page).is_empty());

    // A promoter changes nothing: 403 on what it sees, 404 on what it does not.
    let item = |v: &Value| format!("/api/v1/itinerary-items/{}", id(v));
    let title = Some(json!({"title": "Mine"}));
    for (method, path, body, status) in [
        (Method::PATCH, item(&shared), title.clone(), 403),
        (Method::DELETE, item(&shared), None, 403),
        (Method::PATCH, item(&private), title.clone(), 404),
        (Method::DELETE, item(&private), None, 404),
        (Method::PATCH, item(&next_day), title.clone(), 404),
        (
            Method::POST,
            format!("/api/v1/tours/{tour}/itinerary"),
            Some(json!({"kind": "other", "title": "x", "starts_at_local": "2027-10-30T12:00"})),
            403,
        ),
    ] {
        let (got, answer) = promoter.send(&app, method.clone(), &path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
    }

    // Day sheets: the promoter reads only its show day, with its booking.
    let (status, full) = sheet(&app, agency, &tour, SHOW).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["tour_name"], "Fall Tour");
    assert_eq!(full["artist_name"], "Road Artist");
    assert_eq!(full["stops"][0]["kind"], "show");
    assert_eq!(full["stops"][0]["city_name"], "Berlin");
    assert_eq!(full["stops"][0]["timezone"], "Europe/Berlin");
    assert_eq!(full["stops"][0]["booking_id"], booking.as_str());
    assert_eq!(full["stops"][0]["venue_name"], "Columbiahalle");
    let titles = |sheet: &Value| -> Vec<String> {
        sheet["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        titles(&full),
        vec!["<script>alert(1)</script>", "Hotel (band only)"]
    );
    let (status, seen) = sheet(&app, promoter, &tour, SHOW).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(titles(&seen), vec!["<script>alert(1)</script>"]);
    assert_eq!(seen["stops"][0]["booking_id"], booking.as_str());
    let (status, _) = sheet(&app, promoter, &tour, TRAVEL).await;
    assert_eq!(status, 404);
    let (status, travel) = sheet(&app, agency, &tour, TRAVEL).await;
    assert_eq!(status, 200);
    assert_eq!(titles(&travel), vec!["London radio"]);

    let response = promoter
        .req(
            &app,
            Method::GET,
            &format!("/api/v1/tours/{tour}/day-sheets/{SHOW}?format=html"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    kisum_tests::assert_secure_page(&headers, &html);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("Stage left &amp; right") && html.contains("@media print"),
        "{html}"
    );
    assert!(!html.contains("Hotel (band only)"), "{html}");

    // Anyone else: 404 on every route.
    let body = json!({"kind": "other", "title": "x", "starts_at_local": "2027-10-30T12:00"});
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/tours/{tour}/itinerary"), None),
        (
            Method::POST,
            format!("/api/v1/tours/{tour}/itinerary"),
            Some(body),
        ),
        (Method::PATCH, item(&shared), title.clone()),
        (Method::DELETE, item(&shared), None),
        (
            Method::GET,
            format!("/api/v1/tours/{tour}/day-sheets/{SHOW}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/tours/{tour}/itinerary.ics"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/tours/{tour}/calendar-subscription"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{tour}/calendar-subscription"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/tours/{tour}/calendar-subscription"),
            None,
        ),
    ] {
        let mut request = outsider.req(&app, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        problem(request.send().await.unwrap(), 404, "not_found").await;
    }
    let page = list(&app, agency, &tour, "").await;
    assert_eq!(page["items"][0]["title"], "<script>alert(1)</script>");
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let subscriptions: i64 = sqlx::query_scalar("SELECT count(*) FROM tour_calendar_subscriptions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(subscriptions, 0);
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The feed, read by Python's `icalendar` (pinned in
/// tests/schemathesis/requirements.txt, in the venv `./deploy/dev.sh test`
/// makes); `zone` adds each start converted back with zoneinfo.
async fn parse_ics(ics: &str, zone: &str) -> Value {
    let root = workspace_root();
    let python = kisum_tests::venv_python();
    let mut child = tokio::process::Command::new(python)
        .arg(root.join("tests/ical/check.py"))
        .args(["--zone", zone])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(ics.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "check.py: {}\n{ics}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn feed(app: &TestApp, org: Option<&Org>, path: &str) -> (u16, String) {
    let request = match org {
        Some(org) => org.req(app, Method::GET, path),
        None => app.get(path),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(
            response.headers()["content-type"],
            "text/calendar; charset=utf-8"
        );
    }
    (status, response.text().await.unwrap())
}

fn event<'a>(cal: &'a Value, item: &Value) -> &'a Value {
    let uid = format!("{}@kisum", id(item));
    cal["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"] == uid.as_str())
        .unwrap_or_else(|| panic!("{uid} in {cal}"))
}

#[tokio::test]
async fn the_calendar_feed_reads_back_in_an_independent_parser() {
    let app = TestApp::spawn().await;
    let (p, _, tour) = touring(&app).await;
    let agency = &p.agency;
    let summer = add_item(&app, agency, &tour, json!({
        "kind": "set", "title": "Summer time, late; set", "starts_at_local": "2026-10-24T20:00",
        "ends_at_local": "2026-10-24T21:30", "timezone": "Europe/Berlin",
        "notes": "Line one\nLine two, with comma; and semicolon", "location": "Columbiahalle, Berlin"})).await;
    let winter = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "set", "title": "Winter time", "starts_at_local": "2026-10-25T20:00",
        "timezone": "Europe/Berlin", "precision": "approx"}),
    )
    .await;
    let tbd = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "press", "title": "Interview", "precision": "tbd", "day": "2026-10-26",
        "timezone": "Europe/Berlin"}),
    )
    .await;

    let path = format!("/api/v1/tours/{tour}/itinerary.ics");
    let (status, ics) = feed(&app, Some(agency), &path).await;
    assert_eq!(status, 200, "{ics}");
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "folded at 75 octets: {line}");
    }
    assert!(!ics.contains("TZID"), "{ics}");
    let cal = parse_ics(&ics, "Europe/Berlin").await;
    assert_eq!(cal["name"], "Fall Tour");
    assert_eq!(cal["version"], "2.0");
    assert_eq!(cal["events"].as_array().unwrap().len(), 3, "{cal}");
    let e = event(&cal, &summer);
    assert_eq!(e["dtstart"], "2026-10-24T18:00:00+00:00", "CEST is UTC+2");
    assert_eq!(e["dtstart_local"], "2026-10-24T20:00:00+02:00");
    assert_eq!(e["dtend"], "2026-10-24T19:30:00+00:00");
    assert_eq!(e["summary"], "Summer time, late; set");
    assert_eq!(
        e["description"],
        "Line one\nLine two, with comma; and semicolon"
    );
    assert_eq!(e["location"], "Columbiahalle, Berlin");
    assert_eq!(e["all_day"], false);
    let e = event(&cal, &winter);
    assert_eq!(e["dtstart"], "2026-10-25T19:00:00+00:00", "CET is UTC+1");
    assert_eq!(e["dtstart_local"], "2026-10-25T20:00:00+01:00");
    assert!(e["dtend"].is_null());
    assert_eq!(e["summary"], "~ Winter time");
    let e = event(&cal, &tbd);
    assert_eq!(e["all_day"], true);
    assert_eq!(e["dtstart"], "2026-10-26");
    assert_eq!(e["dtend"], "2026-10-27");
    assert_eq!(
        event(&cal, &summer)["dtstamp"].as_str().map(|s| &s[..19]),
        summer["updated_at"].as_str().map(|s| &s[..19]),
        "DTSTAMP is the item's updated_at"
    );

    // The same data gives the same bytes.
    let (_, again) = feed(&app, Some(agency), &path).await;
    assert_eq!(ics, again);

    // A change raises SEQUENCE under the same UID; a deleted item leaves.
    let (status, _) = agency
        .send(
            &app,
            Method::PATCH,
            &format!("/api/v1/itinerary-items/{}", id(&summer)),
            Some(json!({"starts_at_local": "2026-10-24T20:30"})),
        )
        .await;
    assert_eq!(status, 200);
    let response = agency
        .req(
            &app,
            Method::DELETE,
            &format!("/api/v1/itinerary-items/{}", id(&winter)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, ics) = feed(&app, Some(agency), &path).await;
    let cal = parse_ics(&ics, "Europe/Berlin").await;
    assert_eq!(cal["events"].as_array().unwrap().len(), 2, "{cal}");
    let e = event(&cal, &summer);
    assert!(e["sequence"].as_i64() > Some(0), "{e}");
    assert_eq!(e["dtstart"], "2026-10-24T18:30:00+00:00");
    let uid = format!("{}@kisum", id(&winter));
    assert!(!ics.contains(&uid), "{ics}");
}

#[tokio::test]
async fn subscriptions_open_only_their_tour_as_their_org_sees_it() {
    let app = TestApp::spawn().await;
    let (p, booking, tour) = touring(&app).await;
    let (agency, promoter) = (&p.agency, &p.promoter);
    let other_tour = seed_tour(&app, &p, "Spring Tour", &[]).await;
    let shared = add_item(&app, agency, &tour, json!({
        "kind": "set", "title": "Set", "starts_at_local": "2027-10-30T21:00", "visibility": "shared"})).await;
    let private = add_item(
        &app,
        agency,
        &tour,
        json!({
        "kind": "hotel", "title": "Hotel", "starts_at_local": "2027-10-30T23:30"}),
    )
    .await;
    let elsewhere = add_item(
        &app,
        agency,
        &other_tour,
        json!({
        "kind": "set", "title": "Spring set", "starts_at_local": "2028-04-01T21:00",
        "timezone": "Europe/Berlin"}),
    )
    .await;

    let subscription = format!("/api/v1/tours/{tour}/calendar-subscription");
    let (status, _) = agency.get(&app, &subscription).await;
    assert_eq!(status, 404, "no live subscription yet");
    let (status, created) = agency.send(&app, Method::POST, &subscription, None).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    assert_eq!(
        created["feed_path"],
        format!("/api/v1/tour-feeds/{token}/itinerary.ics")
    );
    let (status, live) = agency.get(&app, &subscription).await;
    assert_eq!(status, 200);
    assert_eq!(live["id"], created["id"]);
    assert!(live.get("token").is_none(), "{live}");
    let stored: String = sqlx::query_scalar("SELECT token_sha256 FROM tour_calendar_subscriptions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains(&token));
    // With an Idempotency-Key the token is still never stored: a retry
    // makes a new one, revoking the first.
    let retry = |key: &str| {
        agency
            .req(&app, Method::POST, &subscription)
            .header("idempotency-key", key.to_owned())
            .send()
    };
    let first: Value = retry("feed-1").await.unwrap().json().await.unwrap();
    let again: Value = retry("feed-1").await.unwrap().json().await.unwrap();
    assert_ne!(first["token"], again["token"]);
    let kept: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM idempotency_keys WHERE position($1 in convert_from(response_body, 'UTF8')) > 0",
    )
    .bind(first["token"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(kept, 0);
    let (status, _) = feed(&app, None, first["feed_path"].as_str().unwrap()).await;
    assert_eq!(status, 404, "a rotated token is revoked");
    let (status, created) = agency.send(&app, Method::POST, &subscription, None).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();

    // The feed opens without credentials, with this tour's items only.
    let feed_path = created["feed_path"].as_str().unwrap().to_owned();
    let (status, ics) = feed(&app, None, &feed_path).await;
    assert_eq!(status, 200, "{ics}");
    let cal = parse_ics(&ics, "Europe/Berlin").await;
    event(&cal, &shared);
    event(&cal, &private);
    assert!(!ics.contains(id(&elsewhere)), "{ics}");
    let (status, _) = agency
        .get(
            &app,
            &format!("/api/v1/tours/{other_tour}/calendar-subscription"),
        )
        .await;
    assert_eq!(status, 404);
    for path in [
        "/api/v1/tour-feeds/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/itinerary.ics".to_owned(),
        format!("/api/v1/tour-feeds/{}/itinerary.ics", &token[..42]),
        format!("/api/v1/tour-feeds/{other_tour}/itinerary.ics"),
    ] {
        problem(app.get(&path).send().await.unwrap(), 404, "not_found").await;
    }

    // The promoter's token shows the promoter's view.
    let (status, theirs) = promoter.send(&app, Method::POST, &subscription, None).await;
    assert_eq!(status, 201, "{theirs}");
    let promoter_feed = theirs["feed_path"].as_str().unwrap().to_owned();
    let (status, ics) = feed(&app, None, &promoter_feed).await;
    assert_eq!(status, 200);
    let cal = parse_ics(&ics, "Europe/Berlin").await;
    assert_eq!(cal["events"].as_array().unwrap().len(), 1, "{cal}");
    event(&cal, &shared);
    assert!(!ics.contains(id(&private)), "{ics}");

    // Rotation: a new token revokes the old one.
    let (status, rotated) = agency.send(&app, Method::POST, &subscription, None).await;
    assert_eq!(status, 201);
    problem(app.get(&feed_path).send().await.unwrap(), 404, "not_found").await;
    let rotated_feed = rotated["feed_path"].as_str().unwrap().to_owned();
    let (status, _) = feed(&app, None, &rotated_feed).await;
    assert_eq!(status, 200);
    let (status, _) = feed(&app, None, &promoter_feed).await;
    assert_eq!(status, 200, "another org's token is its own");

    // Revocation: 204, then the token is refused and nothing is live.
    let response = agency
        .req(&app, Method::DELETE, &subscription)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    problem(
        app.get(&rotated_feed).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    let (status, _) = agency.get(&app, &subscription).await;
    assert_eq!(status, 404);
    let response = agency
        .req(&app, Method::DELETE, &subscription)
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;

    // A promoter whose booking is cancelled loses the tour, and its feed.
    let (status, body) = promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking}/cancel"),
            Some(json!({"reason": "venue closed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    problem(
        app.get(&promoter_feed).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
}

/// Another member of `org`, with a token of their own.
fn member_of(org: &Org, sub: &str, role: &str) -> Org {
    Org {
        id: org.id,
        token: Token::user(sub).org(org.id, role).hs256(),
    }
}

/// Makes the member's token for the tour: its answer and its feed path.
async fn subscribe(app: &TestApp, member: &Org, tour: &str) -> (Value, String) {
    let path = format!("/api/v1/tours/{tour}/calendar-subscription");
    let (status, created) = member.send(app, Method::POST, &path, None).await;
    assert_eq!(status, 201, "{created}");
    let feed_path = created["feed_path"].as_str().unwrap().to_owned();
    (created, feed_path)
}

async fn feed_status(app: &TestApp, feed_path: &str) -> u16 {
    let response = app.get(feed_path).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    if status == 200 {
        assert!(body.starts_with("BEGIN:VCALENDAR"), "{body}");
    }
    status
}

fn at(v: &Value, field: &str) -> chrono::DateTime<chrono::Utc> {
    v[field].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn each_member_has_their_own_expiring_feed_token() {
    let app = TestApp::builder()
        .env("CALENDAR_TOKEN_TTL_DAYS", "7")
        .spawn()
        .await;
    let (p, _, tour) = touring(&app).await;
    let alice = &p.agency;
    let bob = member_of(alice, "bob", "member");
    let subscription = format!("/api/v1/tours/{tour}/calendar-subscription");

    let (mine, my_feed) = subscribe(&app, alice, &tour).await;
    let (theirs, their_feed) = subscribe(&app, &bob, &tour).await;
    assert_eq!(mine["tour_id"], tour.as_str());
    assert_eq!(
        at(&mine, "expires_at") - at(&mine, "created_at"),
        chrono::Duration::days(7),
        "{mine}"
    );
    assert_eq!(feed_status(&app, &my_feed).await, 200);
    assert_eq!(feed_status(&app, &their_feed).await, 200);
    let (status, seen) = bob.get(&app, &subscription).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["id"], theirs["id"], "a member sees their own token");
    assert_eq!(seen["expires_at"], theirs["expires_at"]);

    // Rotating replaces the rotating member's token only.
    let (rotated, rotated_feed) = subscribe(&app, alice, &tour).await;
    assert_eq!(feed_status(&app, &my_feed).await, 404);
    assert_eq!(feed_status(&app, &rotated_feed).await, 200);
    assert_eq!(
        feed_status(&app, &their_feed).await,
        200,
        "bob is not cut off"
    );
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tour_calendar_subscriptions WHERE revoked_at IS NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(live, 2);

    // Each member lists their own tokens, and revokes only those.
    let (status, page) = alice.get(&app, "/api/v1/calendar-subscriptions").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), vec![id(&rotated).to_owned()]);
    assert!(page["items"][0].get("token").is_none(), "{page}");
    let (_, page) = bob.get(&app, "/api/v1/calendar-subscriptions").await;
    assert_eq!(ids(&page), vec![id(&theirs).to_owned()]);
    let revoke = |member: &Org, subscription: &Value| {
        member
            .req(
                &app,
                Method::DELETE,
                &format!("/api/v1/calendar-subscriptions/{}", id(subscription)),
            )
            .send()
    };
    problem(revoke(&bob, &rotated).await.unwrap(), 404, "not_found").await;
    let outsider = Org::new();
    problem(revoke(&outsider, &rotated).await.unwrap(), 404, "not_found").await;
    assert_eq!(feed_status(&app, &rotated_feed).await, 200);
    assert_eq!(revoke(alice, &rotated).await.unwrap().status(), 204);
    assert_eq!(feed_status(&app, &rotated_feed).await, 404);
    problem(revoke(alice, &rotated).await.unwrap(), 404, "not_found").await;
    let (status, _) = alice.get(&app, &subscription).await;
    assert_eq!(status, 404);
    // Revoking by tour takes the caller's own token too, never another's.
    let response = alice
        .req(&app, Method::DELETE, &subscription)
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
    assert_eq!(feed_status(&app, &their_feed).await, 200);

    // An expired token answers like a revoked one, and leaves the lists.
    sqlx::query(
        "UPDATE tour_calendar_subscriptions
            SET created_at = now() - interval '8 days', expires_at = now() - interval '1 second'
          WHERE id = $1",
    )
    .bind(id(&theirs).parse::<uuid::Uuid>().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    problem(app.get(&their_feed).send().await.unwrap(), 404, "not_found").await;
    let (status, _) = bob.get(&app, &subscription).await;
    assert_eq!(status, 404);
    let (_, page) = bob.get(&app, "/api/v1/calendar-subscriptions").await;
    assert!(ids(&page).is_empty(), "{page}");
    problem(revoke(&bob, &theirs).await.unwrap(), 404, "not_found").await;
    let (_, renewed) = subscribe(&app, &bob, &tour).await;
    assert_eq!(feed_status(&app, &renewed).await, 200);
}

/// In remote access mode the feed asks Auth, at each read, whether the
/// token's owner is still a member of the org (the cache is off here, so
/// every read asks).
#[tokio::test]
async fn a_member_who_left_the_org_loses_their_feed_on_its_next_read() {
    // The parties are arranged in claims mode; a second API on the same
    // database asks Auth for every membership.
    let setup = TestApp::spawn().await;
    let (p, _, tour) = touring(&setup).await;
    let (auth, url) = FakeAuth::start().await;
    let app = TestApp::builder()
        .database(TestDb::existing(&setup.db.url))
        .env("AUTH_ACCESS_URL", url)
        .env("AUTH_API_KEY", "auth-side-key-0123456789")
        .env("AUTH_ACCESS_CACHE_SECONDS", "0")
        .spawn()
        .await;
    let org = p.agency.id;
    let alice = Org {
        id: org,
        token: Token::user("alice").hs256(),
    };
    let bob = Org {
        id: org,
        token: Token::user("bob").hs256(),
    };
    auth.grant("alice", org, "member", None);
    auth.grant("bob", org, "member", None);
    let (_, alice_feed) = subscribe(&app, &alice, &tour).await;
    let (_, bob_feed) = subscribe(&app, &bob, &tour).await;
    assert_eq!(feed_status(&app, &alice_feed).await, 200);
    assert_eq!(feed_status(&app, &bob_feed).await, 200);

    auth.revoke("alice", org);
    problem(app.get(&alice_feed).send().await.unwrap(), 404, "not_found").await;
    assert_eq!(
        feed_status(&app, &bob_feed).await,
        200,
        "bob is still a member"
    );
    // A member left without touring access reads no feed either.
    auth.grant("alice", org, "member", Some(&["artist.booking.read"]));
    assert_eq!(feed_status(&app, &alice_feed).await, 404);
    // Nothing was revoked on file: a member added back reads again.
    auth.grant("alice", org, "member", None);
    assert_eq!(feed_status(&app, &alice_feed).await, 200);

    // Auth not answering is 503: never a feed served on a guess.
    auth.fail_with(Some(500));
    problem(
        app.get(&bob_feed).send().await.unwrap(),
        503,
        "access_unavailable",
    )
    .await;
    auth.fail_with(None);
    assert_eq!(feed_status(&app, &bob_feed).await, 200);
}

/// Tokens made before they were per member keep working: each belongs to
/// the member who made it, and expires 180 days after it was made, but not
/// within 30 days of the migration.
#[tokio::test]
async fn the_migration_gives_existing_tokens_an_owner_and_an_expiry() {
    const PER_MEMBER: i64 = 20261206002200;
    let db = TestDb::empty().await;
    let pool = db.pool().await;
    shared::jobs::queue::migrator().run(&pool).await.unwrap();
    shared::db::MIGRATOR
        .run_to(PER_MEMBER - 1, &pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    // Only the subscriptions matter here: no tours behind the rows.
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (tour, org) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let rows = [
        ("recent", "10 days", None),
        ("old", "400 days", None),
        ("revoked", "20 days", Some("5 days")),
    ];
    for (name, age, revoked) in rows {
        sqlx::query(
            "INSERT INTO tour_calendar_subscriptions
                    (id, tour_id, org_id, token_sha256, created_by, created_at, revoked_at)
             VALUES ($1, $2, $3, encode(sha256(convert_to($4, 'UTF8')), 'hex'), $4,
                     now() - $5::interval, now() - $6::interval)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(tour)
        .bind(if name == "old" {
            uuid::Uuid::now_v7()
        } else {
            org
        })
        .bind(name)
        .bind(age)
        .bind(revoked)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    shared::db::MIGRATOR.run(&pool).await.unwrap();

    let days_left = |name: &'static str| {
        sqlx::query_scalar::<_, f64>(
            "SELECT extract(epoch FROM expires_at - now())::float8 / 86400
               FROM tour_calendar_subscriptions WHERE created_by = $1",
        )
        .bind(name)
        .fetch_one(&pool)
    };
    let recent = days_left("recent").await.unwrap();
    assert!((169.9..170.1).contains(&recent), "{recent}");
    let old = days_left("old").await.unwrap();
    assert!((29.9..30.1).contains(&old), "{old}");
    let live: Vec<String> = sqlx::query_scalar(
        "SELECT created_by FROM tour_calendar_subscriptions
          WHERE revoked_at IS NULL AND expires_at > now() ORDER BY created_by",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(live, ["old", "recent"]);
    // A second member of the org may now hold a live token beside the first.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO tour_calendar_subscriptions
                (id, tour_id, org_id, token_sha256, created_by, expires_at)
         VALUES ($1, $2, $3, repeat('a', 64), 'second', now() + interval '1 day')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(tour)
    .bind(org)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

//! SPEC 5.6 tours: a crafted tour whose routing must warn about an
//! overnight leg too long to drive, a radius-clause conflict with a
//! booking outside the tour, a stop outside the agency's territory and two
//! stops on one day; stops, reorder, authorization and bad input.

use chrono::{NaiveDate, Utc};
use kisum_tests::{BookingParties, Org, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};

const AMSTERDAM: i64 = 2759794;
const ROME: i64 = 3169070;
const PARIS: i64 = 2988507;
const ROTTERDAM: i64 = 2747891;
const UTRECHT: i64 = 2745912;
const BERLIN: i64 = 2950159;

fn day(n: i64) -> NaiveDate {
    Utc::now().date_naive() + chrono::Duration::days(120 + n)
}

/// Parties whose agency represents the artist in NL, DE and IT only.
async fn parties(app: &TestApp, name: &str) -> BookingParties {
    let p = kisum_tests::booking_parties(app, &format!("{name} Agency"), name, &[]).await;
    let path = format!(
        "/api/v1/artists-companies/{}/roster/{}",
        p.agency_company, p.artist
    );
    let (status, body) = p.agency.send(app, Method::DELETE, &path, None).await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let path = format!("/api/v1/artists-companies/{}/roster", p.agency_company);
    let link = json!({"artist_id": p.artist, "role": "booking",
                      "territory": {"countries": ["NL", "DE", "IT"]}});
    let (status, body) = p.agency.send(app, Method::POST, &path, Some(link)).await;
    assert_eq!(status, 201, "{body}");
    p
}

/// A confirmed booking of the artist in a city on a date.
async fn show(
    app: &TestApp,
    p: &BookingParties,
    date: NaiveDate,
    city: i64,
    radius: Option<Value>,
) -> String {
    let mut deal = json!({"type": "flat", "currency": "EUR", "guarantee_amount": 500_000});
    if let Some(radius) = radius {
        deal["radius"] = radius;
    }
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": date, "venue": {"name": format!("Hall {city}"), "city_id": city, "capacity": 900},
        "deal": deal, "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    });
    kisum_tests::confirmed_booking(app, p, offer).await
}

async fn tour(app: &TestApp, p: &BookingParties, name: &str) -> String {
    let body = json!({"artist_id": p.artist, "company_id": p.agency_company, "name": name});
    let (status, tour) = p
        .agency
        .send(app, Method::POST, "/api/v1/tours", Some(body))
        .await;
    assert_eq!(status, 201, "{tour}");
    assert_eq!(tour["travel_mode"], "bus");
    assert_eq!(tour["viewer"], "artist_side");
    tour["id"].as_str().unwrap().to_owned()
}

async fn add_stop(app: &TestApp, org: &Org, tour: &str, body: Value) -> Value {
    let (status, stop) = org
        .send(
            app,
            Method::POST,
            &format!("/api/v1/tours/{tour}/stops"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{stop}");
    stop
}

fn warnings_of<'a>(routing: &'a Value, code: &str) -> Vec<&'a Value> {
    routing["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == code)
        .collect()
}

#[tokio::test]
async fn routing_warns_about_a_long_leg_a_radius_clause_the_territory_and_a_crowded_day() {
    let app = TestApp::spawn().await;
    let p = parties(&app, "Routing").await;
    let amsterdam = show(&app, &p, day(0), AMSTERDAM, None).await;
    let rome = show(&app, &p, day(1), ROME, None).await;
    let paris = show(&app, &p, day(4), PARIS, None).await;
    // Outside the tour: Utrecht bars 100 km from 30 days before to 5 after.
    let utrecht = show(
        &app,
        &p,
        day(20),
        UTRECHT,
        Some(json!({"km": 100, "days_before": 30, "days_after": 5})),
    )
    .await;
    let id = tour(&app, &p, "Spring run").await;
    let s_ams = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "show", "booking_id": amsterdam}),
    )
    .await;
    assert_eq!(s_ams["city"]["timezone"], "Europe/Amsterdam");
    assert_eq!(s_ams["date"], json!(day(0)));
    assert_eq!(s_ams["venue_name"], format!("Hall {AMSTERDAM}"));
    let s_rome = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "show", "booking_id": rome}),
    )
    .await;
    let s_paris = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "show", "booking_id": paris}),
    )
    .await;
    // A promo and a travel day both on day 6, the promo near Utrecht.
    let s_promo = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "promo", "date": day(6), "city_id": ROTTERDAM, "title": "Radio session"}),
    )
    .await;
    let s_travel = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "travel", "date": day(6), "city_id": BERLIN}),
    )
    .await;
    // Stops fall into date order by default; a day off is inserted between.
    let s_off = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "day_off", "date": day(2), "city_id": ROME}),
    )
    .await;
    assert_eq!(s_off["position"], 3);

    let (status, routing) = p
        .agency
        .get(&app, &format!("/api/v1/tours/{id}/routing"))
        .await;
    assert_eq!(status, 200, "{routing}");
    let legs = routing["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 5);
    // Amsterdam to Rome overnight: about 1,300 km as the crow flies.
    let leg = &legs[0];
    assert_eq!(leg["from_stop_id"], s_ams["id"]);
    assert_eq!(leg["to_stop_id"], s_rome["id"]);
    let km = leg["distance_km"].as_f64().unwrap();
    assert!((1250.0..1350.0).contains(&km), "{km}");
    assert!(leg["drive_minutes"].as_i64().unwrap() > leg["available_minutes"].as_i64().unwrap());
    let long = warnings_of(&routing, "leg_exceeds_gap");
    assert_eq!(long.len(), 1, "{:#}", routing["warnings"]);
    assert_eq!(long[0]["stop_ids"], json!([s_ams["id"], s_rome["id"]]));
    // Over the daily limit too; so are Rome to Paris over two days (about
    // 20 hours of bus) and Rotterdam to Berlin on one day (over 10 hours).
    let limit = warnings_of(&routing, "leg_exceeds_daily_drive_limit");
    let pairs: Vec<&Value> = limit.iter().map(|w| &w["stop_ids"]).collect();
    assert_eq!(
        pairs,
        [
            &json!([s_ams["id"], s_rome["id"]]),
            &json!([s_off["id"], s_paris["id"]]),
            &json!([s_promo["id"], s_travel["id"]]),
        ],
        "{routing}"
    );
    // The Paris show is outside NL, DE and IT.
    let outside = warnings_of(&routing, "outside_territory");
    assert_eq!(outside.len(), 1, "{routing}");
    assert_eq!(outside[0]["stop_ids"], json!([s_paris["id"]]));
    // Utrecht's clause covers the Amsterdam show and the Rotterdam promo,
    // not the travel day in Berlin.
    let radius = warnings_of(&routing, "radius_clause_conflict");
    let mut barred: Vec<&Value> = radius.iter().map(|w| &w["stop_ids"][0]).collect();
    barred.sort_by_key(|v| v.as_str().unwrap().to_owned());
    let mut expected = vec![&s_ams["id"], &s_promo["id"]];
    expected.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(barred, expected, "{routing}");
    assert!(radius.iter().all(|w| w["booking_id"] == json!(utrecht)));
    let crowded = warnings_of(&routing, "two_stops_one_day");
    assert_eq!(crowded.len(), 1);
    assert_eq!(
        crowded[0]["stop_ids"],
        json!([s_promo["id"], s_travel["id"]])
    );
    // Day 2 is a day-off stop, day 3 and day 5 have no stop at all.
    assert_eq!(routing["days_off"], json!([day(2), day(3), day(5)]));
    assert_eq!(routing["policy"]["road_factor"], 1.25);
    assert!(warnings_of(&routing, "dates_out_of_order").is_empty());

    // Moving Paris first puts its date out of order.
    let (status, list) = p
        .agency
        .get(&app, &format!("/api/v1/tours/{id}/stops"))
        .await;
    assert_eq!(status, 200);
    let mut order: Vec<Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    let paris_at = order.iter().position(|s| *s == s_paris["id"]).unwrap();
    let moved = order.remove(paris_at);
    order.insert(0, moved);
    let response = p
        .agency
        .req(
            &app,
            Method::POST,
            &format!("/api/v1/tours/{id}/stops/reorder"),
        )
        .header("if-match", format!("\"{}\"", list["tour_version"]))
        .json(&json!({"stop_ids": order}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reordered: Value = response.json().await.unwrap();
    assert_eq!(reordered["items"][0]["id"], s_paris["id"]);
    assert_eq!(reordered["items"][0]["position"], 1);
    let (_, routing) = p
        .agency
        .get(&app, &format!("/api/v1/tours/{id}/routing"))
        .await;
    assert_eq!(
        warnings_of(&routing, "dates_out_of_order").len(),
        1,
        "{routing}"
    );
    // A stale version is 412 and changes nothing.
    let response = p
        .agency
        .req(
            &app,
            Method::POST,
            &format!("/api/v1/tours/{id}/stops/reorder"),
        )
        .header("if-match", format!("\"{}\"", list["tour_version"]))
        .json(&json!({"stop_ids": order}))
        .send()
        .await
        .unwrap();
    problem(response, 412, "stale_version").await;

    // Cancelling a booking on the tour shows up in routing.
    let (status, body) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{paris}/cancel"),
            Some(json!({"reason": "venue closed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, routing) = p
        .agency
        .get(&app, &format!("/api/v1/tours/{id}/routing"))
        .await;
    assert_eq!(
        warnings_of(&routing, "booking_not_confirmed").len(),
        1,
        "{routing}"
    );
}

#[tokio::test]
async fn promoters_see_the_tour_but_not_its_routing_and_others_see_nothing() {
    let app = TestApp::spawn().await;
    let p = parties(&app, "Access").await;
    let booking = show(&app, &p, day(0), AMSTERDAM, None).await;
    let id = tour(&app, &p, "Access tour").await;
    let stop = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "show", "booking_id": booking}),
    )
    .await;
    let stop_path = format!("/api/v1/tours/{id}/stops/{}", stop["id"].as_str().unwrap());

    let (status, seen) = p.promoter.get(&app, &format!("/api/v1/tours/{id}")).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["viewer"], "promoter");
    // Not the tour's extent: only the artist side sees the whole route.
    assert_eq!(seen["stop_count"], Value::Null);
    assert_eq!(seen["first_date"], Value::Null);
    let (_, listed) = p.promoter.get(&app, "/api/v1/tours").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    for path in [
        format!("/api/v1/tours/{id}/stops"),
        format!("/api/v1/tours/{id}/routing"),
    ] {
        let response = p
            .promoter
            .req(&app, Method::GET, &path)
            .send()
            .await
            .unwrap();
        problem(response, 403, "forbidden").await;
    }
    let writes = [
        (
            Method::PATCH,
            format!("/api/v1/tours/{id}"),
            json!({"name": "Mine now"}),
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "date": day(1), "city_id": ROME}),
        ),
        (Method::PATCH, stop_path.clone(), json!({"notes": "x"})),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops/reorder"),
            json!({"stop_ids": [stop["id"]]}),
        ),
    ];
    for (method, path, body) in &writes {
        let response = p
            .promoter
            .req(&app, method.clone(), path)
            .json(body)
            .send()
            .await
            .unwrap();
        problem(response, 403, "forbidden").await;
    }
    let response = p
        .promoter
        .req(&app, Method::DELETE, &stop_path)
        .send()
        .await
        .unwrap();
    problem(response, 403, "forbidden").await;

    // A third org sees nothing: 404 everywhere, and an empty list.
    let stranger = Org::new();
    let (_, listed) = stranger.get(&app, "/api/v1/tours").await;
    assert_eq!(listed["items"], json!([]));
    for path in [
        format!("/api/v1/tours/{id}"),
        format!("/api/v1/tours/{id}/stops"),
        format!("/api/v1/tours/{id}/routing"),
    ] {
        let response = stranger.req(&app, Method::GET, &path).send().await.unwrap();
        problem(response, 404, "not_found").await;
    }
    for (method, path, body) in &writes {
        let response = stranger
            .req(&app, method.clone(), path)
            .json(body)
            .send()
            .await
            .unwrap();
        problem(response, 404, "not_found").await;
    }
    let response = stranger
        .req(&app, Method::DELETE, &stop_path)
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
    // The stranger cannot start a tour for an artist it does not represent.
    let (_, company) = stranger
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies",
            Some(json!({"kind": "management", "name": "Stranger Management"})),
        )
        .await;
    let body = json!({"artist_id": p.artist, "company_id": company["id"], "name": "Hijack"});
    let response = stranger
        .req(&app, Method::POST, "/api/v1/tours")
        .json(&body)
        .send()
        .await
        .unwrap();
    let refused = problem(response, 422, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "company_id");
    // Nor put its booking on someone else's tour, nor the agency a booking
    // of another artist.
    let other = parties(&app, "Other").await;
    let foreign = show(&app, &other, day(3), BERLIN, None).await;
    let response = p
        .agency
        .req(&app, Method::POST, &format!("/api/v1/tours/{id}/stops"))
        .json(&json!({"kind": "show", "booking_id": foreign}))
        .send()
        .await
        .unwrap();
    let refused = problem(response, 422, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "booking_id");
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let p = parties(&app, "Input").await;
    let booking = show(&app, &p, day(0), AMSTERDAM, None).await;
    let id = tour(&app, &p, "Input tour").await;
    let stop = add_stop(
        &app,
        &p.agency,
        &id,
        json!({"kind": "show", "booking_id": booking}),
    )
    .await;
    let (_, before) = p.agency.get(&app, &format!("/api/v1/tours/{id}")).await;
    let (_, stops_before) = p
        .agency
        .get(&app, &format!("/api/v1/tours/{id}/stops"))
        .await;
    let stop_path = format!("/api/v1/tours/{id}/stops/{}", stop["id"].as_str().unwrap());

    let cases: Vec<(Method, String, Value, u16, &str)> = vec![
        (
            Method::POST,
            "/api/v1/tours".into(),
            json!({"artist_id": p.artist, "company_id": p.agency_company, "name": ""}),
            422,
            "name",
        ),
        (
            Method::POST,
            "/api/v1/tours".into(),
            json!({"artist_id": p.artist, "company_id": p.agency_company, "name": "x", "travel_mode": "plane"}),
            422,
            "",
        ),
        (
            Method::POST,
            "/api/v1/tours".into(),
            json!({"artist_id": p.agency_company, "company_id": p.agency_company, "name": "x"}),
            422,
            "artist_id",
        ),
        (
            Method::PATCH,
            format!("/api/v1/tours/{id}"),
            json!({"name": "  "}),
            422,
            "name",
        ),
        (
            Method::PATCH,
            format!("/api/v1/tours/{id}"),
            json!({"colour": "red"}),
            422,
            "",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "date": day(1), "city_id": 999_999_999}),
            422,
            "city_id",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "city_id": ROME}),
            422,
            "date",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "date": "+262143-12-31", "city_id": ROME}),
            422,
            "",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "date": "9999-12-31", "city_id": ROME}),
            422,
            "date",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "show", "date": day(1), "city_id": ROME}),
            422,
            "booking_id",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "date": day(1), "city_id": ROME, "booking_id": booking}),
            422,
            "booking_id",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "date": "2027-02-30", "city_id": ROME}),
            422,
            "",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "gig", "date": day(1), "city_id": ROME}),
            422,
            "",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "travel", "date": day(1), "city_id": ROME, "position": 0}),
            422,
            "position",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops"),
            json!({"kind": "show", "booking_id": booking}),
            409,
            "",
        ),
        (
            Method::PATCH,
            stop_path.clone(),
            json!({"date": day(3)}),
            422,
            "date",
        ),
        (
            Method::PATCH,
            stop_path.clone(),
            json!({"kind": "travel"}),
            422,
            "kind",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops/reorder"),
            json!({"stop_ids": []}),
            422,
            "stop_ids",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops/reorder"),
            json!({"stop_ids": [stop["id"], stop["id"]]}),
            422,
            "stop_ids",
        ),
        (
            Method::POST,
            format!("/api/v1/tours/{id}/stops/reorder"),
            json!({"stop_ids": "all"}),
            422,
            "",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let response = p
            .agency
            .req(&app, method.clone(), &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path} {body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
        let problem: Value = response.json().await.unwrap();
        if !field.is_empty() {
            assert_eq!(
                problem["errors"][0]["field"], field,
                "{method} {path} {problem}"
            );
        }
    }
    // Malformed JSON and a bad id.
    let response = p
        .agency
        .req(&app, Method::POST, &format!("/api/v1/tours/{id}/stops"))
        .header("content-type", "application/json")
        .body("{\"kind\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = p
        .agency
        .req(&app, Method::GET, "/api/v1/tours/not-a-uuid/routing")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (_, after) = p.agency.get(&app, &format!("/api/v1/tours/{id}")).await;
    let (_, stops_after) = p
        .agency
        .get(&app, &format!("/api/v1/tours/{id}/stops"))
        .await;
    assert_eq!(before, after);
    assert_eq!(stops_before, stops_after);
    let (_, tours) = p.agency.get(&app, "/api/v1/tours").await;
    assert_eq!(tours["items"].as_array().unwrap().len(), 1);

    // A booking cancelled before it joins is 409 `booking_not_confirmed`.
    let cancelled = show(&app, &p, day(9), BERLIN, None).await;
    let (status, _) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{cancelled}/cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let response = p
        .agency
        .req(&app, Method::POST, &format!("/api/v1/tours/{id}/stops"))
        .json(&json!({"kind": "show", "booking_id": cancelled}))
        .send()
        .await
        .unwrap();
    problem(response, 409, "booking_not_confirmed").await;
}

#[tokio::test]
async fn concurrent_stop_changes_keep_positions_whole() {
    let app = TestApp::spawn().await;
    let p = parties(&app, "Race").await;
    let booking = show(&app, &p, day(0), AMSTERDAM, None).await;
    let id = tour(&app, &p, "Race tour").await;
    let path = format!("/api/v1/tours/{id}/stops");
    let stop = |n: i64| json!({"kind": "travel", "date": day(n), "city_id": ROME});
    let show_stop = json!({"kind": "show", "booking_id": booking});
    let (a, b, c, d) = tokio::join!(
        p.agency.send(&app, Method::POST, &path, Some(stop(1))),
        p.agency.send(&app, Method::POST, &path, Some(stop(1))),
        p.agency
            .send(&app, Method::POST, &path, Some(show_stop.clone())),
        p.agency.send(&app, Method::POST, &path, Some(show_stop)),
    );
    assert_eq!((a.0, b.0), (201, 201));
    // One booking joins a tour once, however the race falls.
    let mut shows = [c.0, d.0];
    shows.sort_unstable();
    assert_eq!(shows, [201, 409], "{c:?} {d:?}");
    let (_, list) = p.agency.get(&app, &path).await;
    let positions: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    // The show (day 0) comes first in date order.
    assert_eq!(list["items"][0]["kind"], "show");
    // Removing the first stop closes the gap.
    let first = list["items"][0]["id"].as_str().unwrap();
    let (status, _) = p
        .agency
        .send(&app, Method::DELETE, &format!("{path}/{first}"), None)
        .await;
    assert_eq!(status, 204);
    let (_, list) = p.agency.get(&app, &path).await;
    let positions: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2]);
}

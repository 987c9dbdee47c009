//! SPEC 5.3: availability windows, avails search and the artist calendar.

use chrono::{Duration, NaiveDate, Utc};
use kisum_tests::{Org, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

type Setup = kisum_tests::BookingParties;

async fn setup(app: &TestApp) -> Setup {
    kisum_tests::booking_parties(app, "Avails Agency", "Window Artist", &["deep-house"]).await
}

fn day(offset: i64) -> NaiveDate {
    Utc::now().date_naive() + Duration::days(offset)
}

#[tokio::test]
async fn windows_are_written_by_the_agency_and_published_to_others() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let path = format!("/api/v1/artists/{}/availabilities", s.artist);
    let (status, window) = s
        .agency
        .send(&app, Method::POST, &path,
            Some(json!({"starts_on": day(20), "ends_on": day(29), "status": "available", "territory": {"countries": ["NL", "BE"]},
                        "min_fee": 800_000, "currency": "eur", "published": true})))
        .await;
    assert_eq!(
        (status, window["currency"].as_str()),
        (201, Some("EUR")),
        "{window}"
    );
    let (_, hidden) = s
        .agency
        .send(&app, Method::POST, &path, Some(json!({"starts_on": day(40), "ends_on": day(41), "status": "tentative", "territory": {"worldwide": true}})))
        .await;
    let (_, agency_view) = s.agency.get(&app, &path).await;
    assert_eq!(agency_view.as_array().unwrap().len(), 2);
    let (_, promoter_view) = s.promoter.get(&app, &path).await;
    assert_eq!(
        promoter_view.as_array().unwrap().len(),
        1,
        "drafts stay with the agency"
    );

    let (status, _) = s
        .promoter
        .send(&app, Method::POST, &path, Some(json!({"starts_on": day(1), "ends_on": day(2), "status": "available", "territory": {"worldwide": true}})))
        .await;
    assert_eq!(status, 403);
    let hidden_path = format!("/api/v1/availabilities/{}", hidden["id"].as_str().unwrap());
    assert_eq!(
        s.promoter
            .send(&app, Method::DELETE, &hidden_path, None)
            .await
            .0,
        404
    );
    let window_path = format!("/api/v1/availabilities/{}", window["id"].as_str().unwrap());
    assert_eq!(
        s.promoter
            .send(
                &app,
                Method::PATCH,
                &window_path,
                Some(json!({"published": false}))
            )
            .await
            .0,
        403
    );

    let bad = [
        (
            json!({"starts_on": day(10), "ends_on": day(5), "status": "available", "territory": {"worldwide": true}}),
            "ends_on",
        ),
        (
            json!({"starts_on": day(1), "ends_on": day(2), "status": "available", "territory": {"worldwide": true}, "min_fee": 10}),
            "currency",
        ),
        (
            json!({"starts_on": day(1), "ends_on": day(400), "status": "available", "territory": {"worldwide": true}}),
            "ends_on",
        ),
        (
            json!({"starts_on": day(1), "ends_on": day(2), "status": "available", "territory": {"countries": ["ZZ"]}}),
            "territory.countries[0]",
        ),
    ];
    for (body, field) in bad {
        let (status, problem) = s.agency.send(&app, Method::POST, &path, Some(body)).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some(field)),
            "{problem}"
        );
    }
    let (status, _) = s
        .agency
        .send(&app, Method::POST, &path, Some(json!({"starts_on": day(1), "ends_on": day(2), "status": "maybe", "territory": {"worldwide": true}})))
        .await;
    assert_eq!(status, 422);

    let response = s
        .agency
        .req(&app, Method::PATCH, &window_path)
        .header("if-match", "\"1\"")
        .json(&json!({"status": "tentative"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = s
        .agency
        .req(&app, Method::PATCH, &window_path)
        .header("if-match", "\"1\"")
        .json(&json!({"status": "available"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);
    assert_eq!(
        s.agency
            .send(&app, Method::DELETE, &hidden_path, None)
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn avails_search_leaves_out_first_holds_and_filters() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let path = format!("/api/v1/artists/{}/availabilities", s.artist);
    s.agency
        .send(&app, Method::POST, &path,
            Some(json!({"starts_on": day(20), "ends_on": day(24), "status": "available", "territory": {"countries": ["NL"]},
                        "min_fee": 500_000, "currency": "EUR", "published": true})))
        .await;
    // A first hold on day 22 takes it out of the open dates.
    let (status, _) = s
        .agency
        .send(&app, Method::POST, "/api/v1/holds",
            Some(json!({"artist_id": s.artist, "date": day(22), "promoter_company_id": s.promoter_company,
                        "expires_at": Utc::now() + Duration::days(3)})))
        .await;
    assert_eq!(status, 201);

    let search = |query: String| {
        let promoter = &s.promoter;
        let app = &app;
        async move {
            promoter
                .get(
                    app,
                    &format!(
                        "/api/v1/avails/search?from={}&to={}{query}",
                        day(15),
                        day(45)
                    ),
                )
                .await
        }
    };
    let (status, found) = search(String::new()).await;
    assert_eq!(status, 200, "{found}");
    let open: Vec<String> = found["items"][0]["open_dates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        open,
        vec![
            day(20).to_string(),
            day(21).to_string(),
            day(23).to_string(),
            day(24).to_string()
        ]
    );
    assert_eq!(found["items"][0]["artist_name"], "Window Artist");

    for (query, hits) in [
        ("&country=nl".to_owned(), 1),
        ("&country=DE".to_owned(), 0),
        ("&genre=electronic".to_owned(), 1),
        ("&genre=jazz".to_owned(), 0),
        ("&max_fee=600000&currency=EUR".to_owned(), 1),
        ("&max_fee=100000&currency=EUR".to_owned(), 0),
        ("&q=windw%20artst".to_owned(), 1),
    ] {
        let (status, page) = search(query.clone()).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(page["items"].as_array().unwrap().len(), hits, "{query}");
    }
    let (_, benelux) = s.promoter.get(&app, "/api/v1/geo/markets/benelux").await;
    let (_, page) = search(format!("&market_id={}", benelux["id"].as_str().unwrap())).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (status, problem) = s
        .promoter
        .get(
            &app,
            &format!("/api/v1/avails/search?from={}&to={}", day(10), day(500)),
        )
        .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("to"))
    );
}

#[tokio::test]
async fn the_calendar_shows_details_to_parties_and_busy_to_others() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    s.agency
        .send(&app, Method::POST, &format!("/api/v1/artists/{}/availabilities", s.artist),
            Some(json!({"starts_on": day(10), "ends_on": day(12), "status": "available", "territory": {"worldwide": true}, "published": true})))
        .await;
    let (_, hold) = s
        .agency
        .send(&app, Method::POST, "/api/v1/holds",
            Some(json!({"artist_id": s.artist, "date": day(11), "promoter_company_id": s.promoter_company,
                        "expires_at": Utc::now() + Duration::days(3)})))
        .await;
    let calendar = format!(
        "/api/v1/artists/{}/calendar?from={}&to={}",
        s.artist,
        day(0),
        day(30)
    );
    let (_, mine) = s.promoter.get(&app, &calendar).await;
    let kinds: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["availability", "hold"]);
    assert_eq!(mine[1]["id"], hold["id"]);
    assert_eq!(mine[1]["priority"], 1);
    let (_, theirs) = Org::new().get(&app, &calendar).await;
    assert_eq!(
        theirs[1],
        json!({"kind": "busy", "starts_on": day(11), "ends_on": day(11), "id": null, "status": null, "priority": null})
    );
}

#[tokio::test]
async fn places_match_countries_regions_markets_and_worldwide() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let path = format!("/api/v1/artists/{}/availabilities", s.artist);
    let market = |slug: &'static str| {
        let app = &app;
        let promoter = &s.promoter;
        async move {
            let (_, m) = promoter
                .get(app, &format!("/api/v1/geo/markets/{slug}"))
                .await;
            m["id"].as_str().unwrap().to_owned()
        }
    };
    let west = market("us-west-coast").await;
    let northeast = market("us-northeast").await;
    let benelux = market("benelux").await;
    // One window per territory, on days 10 to 14 in turn.
    let mut ids = Vec::new();
    for (offset, territory) in [
        (10, json!({"countries": ["US"]})),
        (11, json!({"market_ids": [west]})),
        (12, json!({"worldwide": true})),
        (13, json!({"countries": ["NL"]})),
        (14, json!({"market_ids": [northeast]})),
    ] {
        let (status, window) = s
            .agency
            .send(
                &app,
                Method::POST,
                &path,
                Some(
                    json!({"starts_on": day(offset), "ends_on": day(offset), "status": "available",
                            "territory": territory, "published": true}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{window}");
        ids.push(window["id"].as_str().unwrap().to_owned());
    }
    let search = |query: String| {
        let promoter = &s.promoter;
        let app = &app;
        async move {
            let (status, page) = promoter
                .get(
                    app,
                    &format!(
                        "/api/v1/avails/search?from={}&to={}{query}",
                        day(5),
                        day(20)
                    ),
                )
                .await;
            assert_eq!(status, 200, "{query}: {page}");
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["availability"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let pick = |which: &[usize]| which.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    // A country finds itself, windows in its regions and worldwide ones.
    assert_eq!(search("&country=us".into()).await, pick(&[0, 1, 2, 4]));
    assert_eq!(search("&country=NL".into()).await, pick(&[2, 3]));
    assert_eq!(search("&country=SE".into()).await, pick(&[2]));
    // A market of regions finds its regions, the whole country and
    // worldwide windows, but not the country's other regions.
    assert_eq!(search(format!("&market_id={west}")).await, pick(&[0, 1, 2]));
    // A country and a market together: windows overlapping both.
    assert_eq!(
        search(format!("&country=NL&market_id={benelux}")).await,
        pick(&[2, 3])
    );
    assert_eq!(
        search(format!("&country=US&market_id={benelux}")).await,
        pick(&[2])
    );
    assert_eq!(search(String::new()).await, pick(&[0, 1, 2, 3, 4]));

    // Unpublishing, blocking or deleting a window takes it out of search;
    // moving it to another country moves it.
    let edit = |i: usize, body: Value| {
        let agency = &s.agency;
        let app = &app;
        let id = ids[i].clone();
        async move {
            let (status, _) = agency
                .send(
                    app,
                    Method::PATCH,
                    &format!("/api/v1/availabilities/{id}"),
                    Some(body),
                )
                .await;
            assert_eq!(status, 200);
        }
    };
    edit(3, json!({"published": false})).await;
    edit(4, json!({"status": "blocked"})).await;
    edit(0, json!({"territory": {"countries": ["SE"]}})).await;
    let (status, _) = s
        .agency
        .send(
            &app,
            Method::DELETE,
            &format!("/api/v1/availabilities/{}", ids[1]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(search("&country=US".into()).await, pick(&[2]));
    assert_eq!(search("&country=SE".into()).await, pick(&[0, 2]));
    assert_eq!(search(String::new()).await, pick(&[0, 2]));
    edit(3, json!({"published": true})).await;
    assert_eq!(search("&country=NL".into()).await, pick(&[2, 3]));
}

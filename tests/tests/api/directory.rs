//! SPEC 5.1: directory and identity, with the shipped reference data.

use kisum_tests::{Org, TestApp, Token, problem};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn company(app: &TestApp, org: &Org, kind: &str, name: &str) -> Value {
    let (status, body) = org
        .send(
            app,
            Method::POST,
            "/api/v1/artists-companies",
            Some(json!({"kind": kind, "name": name, "country": "NL"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn artist(app: &TestApp, org: &Org, name: &str, country: &str, genres: &[&str]) -> Value {
    let (status, body) = org
        .send(
            app,
            Method::POST,
            "/api/v1/artists",
            Some(json!({"name": name, "country": country, "genres": genres})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn reference_data_is_real_and_complete() {
    let app = TestApp::spawn().await;
    let org = Org::with_role("viewer");

    let (status, countries) = org.get(&app, "/api/v1/geo/countries").await;
    assert_eq!(status, 200);
    assert_eq!(countries.as_array().unwrap().len(), 249);
    let (_, nl) = org.get(&app, "/api/v1/geo/countries?q=nether").await;
    assert_eq!(nl[0]["code"], "NL");

    let (_, currencies) = org.get(&app, "/api/v1/geo/currencies").await;
    let currencies = currencies.as_array().unwrap();
    assert!(currencies.len() > 150);
    let jpy = currencies.iter().find(|c| c["code"] == "JPY").unwrap();
    assert_eq!(jpy["minor_units"], 0);

    let cities: i64 = sqlx::query_scalar("SELECT count(*) FROM cities")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(cities > 30_000, "{cities} cities");
    let (_, page) = org
        .get(&app, "/api/v1/geo/cities?country=NL&q=amsterdm")
        .await;
    assert_eq!(page["items"][0]["name"], "Amsterdam");
    assert!(page["items"][0]["latitude"].as_f64().unwrap() > 52.0);
    let (_, biggest) = org.get(&app, "/api/v1/geo/cities?limit=3").await;
    assert_eq!(biggest["items"].as_array().unwrap().len(), 3);
    assert!(biggest["items"][0]["population"].as_i64().unwrap() > 10_000_000);

    let (_, genres) = org.get(&app, "/api/v1/genres").await;
    let genres = genres.as_array().unwrap();
    let total: usize = genres
        .iter()
        .map(|g| 1 + g["subgenres"].as_array().unwrap().len())
        .sum();
    assert!(total >= 300, "{total} genres");
    let electronic = genres.iter().find(|g| g["slug"] == "electronic").unwrap();
    assert!(
        electronic["subgenres"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["slug"] == "deep-house")
    );

    let (_, markets) = org.get(&app, "/api/v1/geo/markets").await;
    assert!(markets.as_array().unwrap().len() >= 30);
    let (status, benelux) = org.get(&app, "/api/v1/geo/markets/benelux").await;
    assert_eq!(status, 200);
    assert_eq!(benelux["countries"], json!(["BE", "LU", "NL"]));
    let (_, by_id) = org
        .get(
            &app,
            &format!("/api/v1/geo/markets/{}", benelux["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(by_id["slug"], "benelux");
    let (_, west) = org.get(&app, "/api/v1/geo/markets/us-west-coast").await;
    assert!(
        west["regions"]
            .as_array()
            .unwrap()
            .contains(&json!("US-CA"))
    );
    problem(
        org.req(&app, Method::GET, "/api/v1/geo/markets/atlantis")
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn companies_are_owned_by_their_creator_and_agencies_need_provisioning() {
    let app = TestApp::spawn().await;
    let a = Org::with_role("owner");
    let b = Org::with_role("owner");

    let promoter = company(&app, &a, "promoter", "Paradiso Presents").await;
    assert_eq!(promoter["claimed"], true);
    assert_eq!(promoter["kind"], "promoter");
    let id = promoter["id"].as_str().unwrap();

    let (_, me) = a.get(&app, "/api/v1/me/companies").await;
    assert_eq!(me[0]["id"], id);
    let (_, me) = a.get(&app, "/api/v1/me").await;
    assert_eq!(me["companies"][0]["id"], id);
    let (_, other) = b.get(&app, "/api/v1/me/companies").await;
    assert_eq!(other, json!([]));

    let (status, body) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies",
            Some(json!({"kind": "agency", "name": "Backdoor Agency"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("agency_requires_provisioning"))
    );

    // Others read it but may not change it.
    let path = format!("/api/v1/artists-companies/{id}");
    assert_eq!(b.get(&app, &path).await.0, 200);
    let (status, body) = b
        .send(
            &app,
            Method::PATCH,
            &path,
            Some(json!({"name": "Hijacked"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = a
        .send(
            &app,
            Method::PATCH,
            &path,
            Some(json!({"name": "Paradiso Live", "website": "https://paradiso.example"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Paradiso Live");
    assert_eq!(body["version"], 2);
    problem(
        a.req(
            &app,
            Method::GET,
            &format!("/api/v1/artists-companies/{}", Uuid::now_v7()),
        )
        .send()
        .await
        .unwrap(),
        404,
        "not_found",
    )
    .await;

    // Listing: by kind and typo-tolerant name.
    let (_, page) = b
        .get(&app, "/api/v1/artists-companies?kind=promoter&q=paradso")
        .await;
    assert_eq!(names(&page), vec!["Paradiso Live"]);
    let (_, page) = b.get(&app, "/api/v1/artists-companies?kind=venue").await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn company_input_is_validated_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let a = Org::with_role("owner");
    let cases = [
        (
            json!({"kind": "promoter", "name": "X", "country": "XX"}),
            "country",
        ),
        (
            json!({"kind": "promoter", "name": "X", "country": "Netherlands"}),
            "country",
        ),
        (
            json!({"kind": "promoter", "name": "X", "website": "ftp://x.example"}),
            "website",
        ),
        (
            json!({"kind": "promoter", "name": "X", "email": "not-an-email"}),
            "email",
        ),
        (
            json!({"kind": "promoter", "name": "X", "phone": "call me maybe"}),
            "phone",
        ),
        (
            json!({"kind": "promoter", "name": "X", "city_id": 1}),
            "city_id",
        ),
        (json!({"kind": "promoter", "name": ""}), "name"),
        (json!({"kind": "promoter", "name": "x".repeat(201)}), "name"),
    ];
    for (body, field) in cases {
        let response = a
            .req(&app, Method::POST, "/api/v1/artists-companies")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    // Amsterdam is in NL, not BE.
    let amsterdam: i64 = sqlx::query_scalar(
        "SELECT id FROM cities WHERE name = 'Amsterdam' AND country_code = 'NL'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let response = a
        .req(&app, Method::POST, "/api/v1/artists-companies")
        .json(&json!({"kind": "venue", "name": "Melkweg", "country": "BE", "city_id": amsterdam}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
    let response = a
        .req(&app, Method::POST, "/api/v1/artists-companies")
        .json(&json!({"kind": "festival", "name": "X"}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "invalid_body").await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM companies")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let claims: i64 = sqlx::query_scalar("SELECT count(*) FROM artists_company_claims")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(claims, 0);

    // With a city, the country follows from it.
    let (status, venue) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies",
            Some(json!({"kind": "venue", "name": "Melkweg", "city_id": amsterdam})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(venue["country"], "NL");
    assert_eq!(venue["city_name"], "Amsterdam");
}

#[tokio::test]
async fn artists_are_created_by_management_and_edited_only_by_it() {
    let app = TestApp::spawn().await;
    let mgmt = Org::with_role("member");
    let promoter = Org::with_role("owner");
    company(&app, &mgmt, "management", "Northern Lights Mgmt").await;
    company(&app, &promoter, "promoter", "Club Night Ltd").await;

    let (status, body) = promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/artists",
            Some(json!({"name": "Nope", "genres": []})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));

    let artist = artist(&app, &mgmt, "Röyksopp", "NO", &["electronic", "synth-pop"]).await;
    assert_eq!(artist["country"], "NO");
    let slugs: Vec<&str> = artist["genres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, vec!["electronic", "synth-pop"]);
    let path = format!("/api/v1/artists/{}", artist["id"].as_str().unwrap());

    let (status, _) = promoter
        .send(&app, Method::PATCH, &path, Some(json!({"name": "Stolen"})))
        .await;
    assert_eq!(status, 403);
    let response = mgmt
        .req(&app, Method::PATCH, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"genres": ["ambient"], "country": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["genres"][0]["slug"], "ambient");
    assert_eq!(updated["country"], Value::Null);

    let (status, body) = mgmt
        .send(
            &app,
            Method::PATCH,
            &path,
            Some(json!({"genres": ["polka-dubstep"]})),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("genres[0]"))
    );

    assert_eq!(
        promoter
            .req(&app, Method::DELETE, &path)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        mgmt.req(&app, Method::DELETE, &path)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(promoter.get(&app, &path).await.0, 404);
    assert_eq!(
        mgmt.req(&app, Method::DELETE, &path)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn search_is_typo_tolerant_and_filters_by_genre_tree_country_and_market() {
    let app = TestApp::spawn().await;
    let mgmt = Org::with_role("owner");
    company(&app, &mgmt, "management", "Roster Mgmt").await;
    artist(&app, &mgmt, "Daft Punk", "FR", &["french-house"]).await;
    artist(&app, &mgmt, "Justice", "FR", &["electro"]).await;
    artist(&app, &mgmt, "Dave Brubeck Quartet", "US", &["cool-jazz"]).await;
    artist(&app, &mgmt, "Dafne Punkt", "DE", &["techno"]).await;
    artist(&app, &mgmt, "Caribou", "CA", &["electronic"]).await;
    artist(&app, &mgmt, "Amsterdam Klezmer Band", "NL", &["klezmer"]).await;

    let (_, page) = mgmt.get(&app, "/api/v1/artists?q=daft%20pnuk").await;
    let found = names(&page);
    assert_eq!(
        found.first().map(String::as_str),
        Some("Daft Punk"),
        "{found:?}"
    );

    let (_, page) = mgmt.get(&app, "/api/v1/artists?q=royksopp").await;
    assert!(names(&page).is_empty());
    let (_, page) = mgmt.get(&app, "/api/v1/artists?q=brubek").await;
    assert_eq!(names(&page), vec!["Dave Brubeck Quartet"]);

    // A parent genre matches its subgenres.
    let (_, page) = mgmt.get(&app, "/api/v1/artists?genre=electronic").await;
    assert_eq!(
        names(&page),
        vec!["Caribou", "Dafne Punkt", "Daft Punk", "Justice"]
    );
    let (_, page) = mgmt
        .get(&app, "/api/v1/artists?genre=electronic&country=fr")
        .await;
    assert_eq!(names(&page), vec!["Daft Punk", "Justice"]);
    let (_, page) = mgmt.get(&app, "/api/v1/artists?q=punk&genre=techno").await;
    assert_eq!(names(&page), vec!["Dafne Punkt"]);

    let (_, benelux) = mgmt.get(&app, "/api/v1/geo/markets/benelux").await;
    let (_, page) = mgmt
        .get(
            &app,
            &format!(
                "/api/v1/artists?market_id={}",
                benelux["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(names(&page), vec!["Amsterdam Klezmer Band"]);

    let response = mgmt
        .req(&app, Method::GET, "/api/v1/artists?genre=nope")
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "genre");
    let response = mgmt
        .req(&app, Method::GET, "/api/v1/artists?market_id=benelux")
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_query").await;
}

#[tokio::test]
async fn search_pages_are_stable_while_artists_are_added() {
    let app = TestApp::spawn().await;
    let mgmt = Org::with_role("owner");
    company(&app, &mgmt, "management", "Big Roster").await;
    for i in 0..9 {
        artist(&app, &mgmt, &format!("Band {i:02}"), "GB", &["indie-rock"]).await;
    }
    for query in [
        "/api/v1/artists?genre=rock&limit=4",
        "/api/v1/artists?q=band&limit=4",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut added = false;
        loop {
            let path = match &cursor {
                Some(c) => format!("{query}&cursor={c}"),
                None => query.to_owned(),
            };
            let (status, page) = mgmt.get(&app, &path).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(names(&page));
            if !added {
                // Sorts before every later page: must not appear, nothing may shift.
                artist(
                    &app,
                    &mgmt,
                    &format!("Band 00 {query}"),
                    "GB",
                    &["indie-rock"],
                )
                .await;
                added = true;
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no repeats in {seen:?}");
        for i in 0..9 {
            assert!(
                seen.contains(&format!("Band {i:02}")),
                "Band {i:02} missing from {seen:?}"
            );
        }
    }
}

#[tokio::test]
async fn profiles_validate_and_version() {
    let app = TestApp::spawn().await;
    let mgmt = Org::with_role("owner");
    company(&app, &mgmt, "management", "Profiles Mgmt").await;
    let artist = artist(&app, &mgmt, "Kiasmos", "IS", &["ambient"]).await;
    let path = format!("/api/v1/artists/{}/profile", artist["id"].as_str().unwrap());

    let (status, empty) = mgmt.get(&app, &path).await;
    assert_eq!((status, empty["version"].as_i64()), (200, Some(0)));

    let (_, benelux) = mgmt.get(&app, "/api/v1/geo/markets/benelux").await;
    let good = json!({
        "bio": "Icelandic-Faroese duo.",
        "links": [{"label": "Site", "url": "https://kiasmos.example"}],
        "photos": [{"url": "https://cdn.example/k.jpg", "credit": "Press"}],
        "fee_min": 1_500_000, "fee_max": 3_000_000, "fee_currency": "eur",
        "territories": ["nl", "DE", "NL"],
        "draw_by_market": [{"market_id": benelux["id"], "draw": 1200}]
    });
    let response = mgmt
        .req(&app, Method::PUT, &path)
        .header("if-match", "\"0\"")
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let profile: Value = response.json().await.unwrap();
    assert_eq!(profile["version"], 1);
    assert_eq!(profile["fee_currency"], "EUR");
    assert_eq!(profile["territories"], json!(["DE", "NL"]));

    let stale = mgmt
        .req(&app, Method::PUT, &path)
        .header("if-match", "\"0\"")
        .json(&good)
        .send()
        .await
        .unwrap();
    problem(stale, 412, "stale_version").await;

    let bad = json!({
        "links": [{"label": "", "url": "notaurl"}],
        "fee_min": 500, "fee_max": 100,
        "territories": ["ZZZ"],
    });
    let response = mgmt
        .req(&app, Method::PUT, &path)
        .json(&bad)
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "links[0].label",
        "links[0].url",
        "fee_max",
        "fee_currency",
        "territories[0]",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let response = mgmt
        .req(&app, Method::PUT, &path)
        .json(&json!({"territories": ["QQ"]}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
    let response = mgmt
        .req(&app, Method::PUT, &path)
        .json(&json!({"fee_min": 1, "fee_currency": "XYZ"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "fee_currency");
    let (_, after) = mgmt.get(&app, &path).await;
    assert_eq!(after["version"], 1, "failed writes changed nothing");

    let other = Org::with_role("owner");
    let (status, _) = other.send(&app, Method::PUT, &path, Some(good)).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn contacts_are_private_to_their_org_unless_shared() {
    let app = TestApp::spawn().await;
    let a = Org::with_role("owner");
    let b = Org::with_role("owner");
    let company = company(&app, &a, "promoter", "Contact Co").await;
    let company_id = company["id"].as_str().unwrap();
    let (status, private) = a
        .send(&app, Method::POST, "/api/v1/people", Some(json!({"company_id": company_id, "name": "Ana Private", "email": "ana@contact.example"})))
        .await;
    assert_eq!(status, 201, "{private}");
    assert_eq!(private["visibility"], "private");
    let (_, shared) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/people",
            Some(json!({"company_id": company_id, "name": "Bo Network", "visibility": "network"})),
        )
        .await;

    let private_path = format!("/api/v1/people/{}", private["id"].as_str().unwrap());
    let shared_path = format!("/api/v1/people/{}", shared["id"].as_str().unwrap());
    assert_eq!(a.get(&app, &private_path).await.0, 200);
    assert_eq!(b.get(&app, &private_path).await.0, 404);
    assert_eq!(b.get(&app, &shared_path).await.0, 200);
    let (status, _) = b
        .send(
            &app,
            Method::PATCH,
            &private_path,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = b
        .send(
            &app,
            Method::PATCH,
            &shared_path,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        b.req(&app, Method::DELETE, &private_path)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let (_, a_list) = a
        .get(&app, &format!("/api/v1/people?company_id={company_id}"))
        .await;
    assert_eq!(names(&a_list), vec!["Ana Private", "Bo Network"]);
    let (_, b_list) = b
        .get(&app, &format!("/api/v1/people?company_id={company_id}"))
        .await;
    assert_eq!(names(&b_list), vec!["Bo Network"]);

    // B cannot add contacts to A's company.
    let (status, _) = b
        .send(
            &app,
            Method::POST,
            "/api/v1/people",
            Some(json!({"company_id": company_id, "name": "Intruder"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = a
        .send(&app, Method::POST, "/api/v1/people", Some(json!({"company_id": company_id, "name": "Bad", "email": "bad@", "visibility": "public"})))
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, updated) = a
        .send(
            &app,
            Method::PATCH,
            &private_path,
            Some(json!({"visibility": "network", "email": null})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["email"], Value::Null);
    assert_eq!(b.get(&app, &private_path).await.0, 200);
    assert_eq!(
        a.req(&app, Method::DELETE, &private_path)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(a.get(&app, &private_path).await.0, 404);
}

#[tokio::test]
async fn platform_accounts_and_provider_references_are_unique() {
    let app = TestApp::spawn().await;
    let mgmt = Org::with_role("owner");
    company(&app, &mgmt, "management", "Handles Mgmt").await;
    let one = artist(&app, &mgmt, "First Artist", "SE", &[]).await;
    let two = artist(&app, &mgmt, "Second Artist", "SE", &[]).await;
    let accounts = |a: &Value| {
        format!(
            "/api/v1/artists/{}/platform-accounts",
            a["id"].as_str().unwrap()
        )
    };

    let (status, account) = mgmt
        .send(
            &app,
            Method::POST,
            &accounts(&one),
            Some(json!({"platform": "instagram", "handle": "@FirstArtist"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(account["handle"], "FirstArtist");
    let response = mgmt
        .req(&app, Method::POST, &accounts(&two))
        .json(&json!({"platform": "instagram", "handle": "firstartist"}))
        .send()
        .await
        .unwrap();
    problem(response, 409, "platform_handle_taken").await;
    let response = mgmt
        .req(&app, Method::POST, &accounts(&two))
        .json(&json!({"platform": "myspace", "handle": "x"}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "invalid_body").await;
    let (_, list) = mgmt.get(&app, &accounts(&one)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let outsider = Org::with_role("owner");
    let (status, _) = outsider
        .send(
            &app,
            Method::POST,
            &accounts(&one),
            Some(json!({"platform": "spotify", "handle": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let remove = format!("{}/{}", accounts(&one), account["id"].as_str().unwrap());
    assert_eq!(
        mgmt.req(&app, Method::DELETE, &remove)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        mgmt.req(&app, Method::DELETE, &remove)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let reference = json!({"provider": "musicbrainz", "external_id": "mbid-1", "entity_type": "artist", "entity_id": one["id"]});
    let (status, _) = mgmt
        .send(
            &app,
            Method::POST,
            "/api/v1/provider-references",
            Some(reference.clone()),
        )
        .await;
    assert_eq!(status, 201);
    let mut duplicate = reference.clone();
    duplicate["entity_id"] = two["id"].clone();
    let response = mgmt
        .req(&app, Method::POST, "/api/v1/provider-references")
        .json(&duplicate)
        .send()
        .await
        .unwrap();
    problem(response, 409, "provider_reference_taken").await;
    let (status, found) = outsider
        .get(
            &app,
            "/api/v1/provider-references/lookup?provider=musicbrainz&external_id=mbid-1",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(found[0]["entity_id"], one["id"]);
    let (_, refs) = outsider
        .get(
            &app,
            &format!(
                "/api/v1/provider-references?entity_type=artist&entity_id={}",
                one["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(refs.as_array().unwrap().len(), 1);
    let (status, _) = outsider
        .send(
            &app,
            Method::POST,
            "/api/v1/provider-references",
            Some(reference),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn trusted_imports_are_idempotent_on_provider_reference() {
    let app = TestApp::spawn().await;
    let body = json!({
        "kind": "agency", "name": "Sleeping Agency", "country": "DE",
        "provider_reference": {"provider": "legacy_crm", "external_id": "A-17"}
    });
    let first = app
        .internal(Method::POST, "/internal/artists-companies")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["claimed"], false);
    assert_eq!(first["kind"], "agency");
    let again = app
        .internal(Method::POST, "/internal/artists-companies")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // Concurrent imports of one new reference create it once.
    let artist = json!({"name": "Imported Artist", "genres": ["house"], "provider_reference": {"provider": "spotify", "external_id": "sp-42"}});
    let sends = (0..6).map(|_| {
        app.internal(Method::POST, "/internal/artists")
            .json(&artist)
            .send()
    });
    let responses = futures::future::join_all(sends).await;
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for response in responses {
        let response = response.unwrap();
        if response.status() == 201 {
            created += 1;
        } else {
            assert_eq!(response.status(), 200);
        }
        let body: Value = response.json().await.unwrap();
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((created, ids.len()), (1, 1));

    // A user token never imports.
    let org = Uuid::now_v7();
    let response = app
        .post("/internal/artists")
        .bearer_auth(Token::member(org, "owner").hs256())
        .header("x-org", org.to_string())
        .json(&artist)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = app
        .internal(Method::POST, "/internal/artists")
        .json(&json!({"name": "X", "provider_reference": {"provider": "Bad Provider!", "external_id": ""}}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
}

/// A client holding the current `ETag` re-reads nothing: `If-None-Match`
/// with it is 304 without a body (the artist from its version alone, the
/// profile through the shared layer); after an edit the same tag is a full
/// 200 with the new one.
#[tokio::test]
async fn conditional_reads_answer_304_while_the_version_is_current() {
    let app = TestApp::spawn().await;
    let mgmt = Org::with_role("owner");
    let promoter = Org::with_role("owner");
    company(&app, &mgmt, "management", "Conditional Mgmt").await;
    let artist = artist(&app, &mgmt, "Jon Hopkins", "GB", &["electronic"]).await;
    let path = format!("/api/v1/artists/{}", artist["id"].as_str().unwrap());
    let get = |org: &Org, path: &str, tag: &str| {
        org.req(&app, Method::GET, path)
            .header("if-none-match", tag.to_owned())
            .send()
    };
    for (org, tag) in [
        (&mgmt, "\"1\""),
        (&promoter, "W/\"1\""),
        (&mgmt, "\"0\", \"1\""),
        (&mgmt, "*"),
    ] {
        let response = get(org, &path, tag).await.unwrap();
        assert_eq!(response.status(), 304, "{tag}");
        assert_eq!(response.headers()["etag"], "\"1\"");
        assert!(response.bytes().await.unwrap().is_empty());
    }
    let stale = get(&mgmt, &path, "\"0\"").await.unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.headers()["etag"], "\"1\"");
    let edited = mgmt
        .req(&app, Method::PATCH, &path)
        .json(&json!({"name": "Jon Hopkins Live"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let changed = get(&mgmt, &path, "\"1\"").await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()["etag"], "\"2\"");
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["name"], "Jon Hopkins Live");
    // An artist that does not exist is still 404, whatever the tag.
    let missing = get(&mgmt, &format!("/api/v1/artists/{}", Uuid::now_v7()), "*")
        .await
        .unwrap();
    problem(missing, 404, "not_found").await;

    // Through the shared layer: the profile's handler runs, its answer's
    // ETag decides.
    let profile = format!("{path}/profile");
    let (status, _) = mgmt.get(&app, &profile).await;
    assert_eq!(status, 200);
    let response = get(&promoter, &profile, "\"0\"").await.unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()["etag"], "\"0\"");
    assert_eq!(
        get(&promoter, &profile, "\"5\"").await.unwrap().status(),
        200
    );
    // Only GETs: a write with If-None-Match is not turned into a 304.
    let put = mgmt
        .req(&app, Method::PUT, &profile)
        .header("if-none-match", "\"0\"")
        .json(&json!({"bio": "Producer."}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
}

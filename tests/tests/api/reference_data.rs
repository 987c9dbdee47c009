//! Reference data is enforced (SPEC 2, 5.1): every currency, country, city,
//! market and genre a route takes must exist in the shipped data. The API
//! answers 422 naming the field and writes nothing; the database refuses
//! the same values (foreign keys, triggers for arrays) with the same field;
//! and the migration that added those keys reports rows written before it.

use chrono::{Duration, Utc};
use kisum_tests::{Org, TestApp, TestDb, booking_parties};
use reqwest::Method;
use serde_json::{Value, json};
use shared::DomainError;
use sqlx::PgPool;

const UNKNOWN: &str = "0190a0a0-0000-7000-8000-000000000000";
const NOWHERE: i64 = 999_999_999;
const AMSTERDAM: i64 = 2_759_794;
const BERLIN: i64 = 2_950_159;
/// The migration that made reference data keys.
const REFERENCE_KEYS: i64 = 20_261_202_000_001;

/// Who sends a case.
enum By<'a> {
    Org(&'a Org),
    Internal,
}

/// One request: who sends it, method, path, body, and the fields its 422
/// must name, in order.
type Case<'a> = (
    By<'a>,
    Method,
    String,
    Option<Value>,
    &'static [&'static str],
);

/// Everything a refused directory write could have touched.
async fn snapshot(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT json_build_object(
            'companies', (SELECT json_agg(json_build_array(id, version, country_code, city_id) ORDER BY id)
                            FROM companies),
            'artists', (SELECT json_agg(json_build_array(id, version, country_code, city_id) ORDER BY id)
                          FROM artists),
            'genres', (SELECT count(*) FROM artist_genres),
            'profiles', (SELECT json_agg(json_build_array(artist_id, version) ORDER BY artist_id)
                           FROM artist_profiles),
            'requests', (SELECT count(*) FROM artists_provisioning_requests),
            'claims', (SELECT count(*) FROM artists_company_claims),
            'references', (SELECT count(*) FROM provider_references)
         )::text",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn directory_routes_refuse_unknown_reference_data_and_change_nothing() {
    let app = TestApp::spawn().await;
    let mgmt = Org::new();
    let (status, company) = mgmt
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies",
            Some(json!({"kind": "management", "name": "Ref Mgmt", "country": "NL"})),
        )
        .await;
    assert_eq!(status, 201, "{company}");
    let (status, artist) = mgmt
        .send(
            &app,
            Method::POST,
            "/api/v1/artists",
            Some(json!({"name": "Ref Artist", "country": "NL", "genres": ["ambient"]})),
        )
        .await;
    assert_eq!(status, 201, "{artist}");
    let (_, benelux) = mgmt.get(&app, "/api/v1/geo/markets/benelux").await;
    let benelux = benelux["id"].as_str().unwrap().to_owned();
    let newcomer = Org::new();
    let company = format!(
        "/api/v1/artists-companies/{}",
        company["id"].as_str().unwrap()
    );
    let artist = format!("/api/v1/artists/{}", artist["id"].as_str().unwrap());
    let profile = format!("{artist}/profile");
    let promoter = |extra: Value| {
        let mut body = json!({"kind": "promoter", "name": "Ref Promoter"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let draw = |ids: &[&str]| json!({"draw_by_market": ids.iter().map(|id| json!({"market_id": id, "draw": 10})).collect::<Vec<_>>()});

    let companies = "/api/v1/artists-companies";
    let requests = "/api/v1/artists-companies/creation-requests";
    let cases: Vec<Case> = vec![
        (
            By::Org(&mgmt),
            Method::POST,
            companies.into(),
            Some(promoter(json!({"country": "ZZ"}))),
            &["country"],
        ),
        (
            By::Org(&mgmt),
            Method::POST,
            companies.into(),
            Some(promoter(json!({"city_id": NOWHERE}))),
            &["city_id"],
        ),
        (
            By::Org(&mgmt),
            Method::POST,
            companies.into(),
            Some(promoter(json!({"country": "ZZ", "city_id": NOWHERE}))),
            &["country", "city_id"],
        ),
        (
            By::Org(&mgmt),
            Method::POST,
            companies.into(),
            Some(promoter(json!({"country": "NL", "city_id": BERLIN}))),
            &["city_id"],
        ),
        (
            By::Org(&mgmt),
            Method::PATCH,
            company.clone(),
            Some(json!({"city_id": NOWHERE})),
            &["city_id"],
        ),
        (
            By::Org(&mgmt),
            Method::PATCH,
            company.clone(),
            Some(json!({"country": "QQ"})),
            &["country"],
        ),
        (
            By::Internal,
            Method::POST,
            "/internal/artists-companies".into(),
            Some(json!({"kind": "agency", "name": "Ref Import", "country": "ZZ"})),
            &["country"],
        ),
        (
            By::Org(&newcomer),
            Method::POST,
            requests.into(),
            Some(json!({"spec": {"name": "Ref Agency", "city_id": NOWHERE}})),
            &["spec.city_id"],
        ),
        (
            By::Org(&newcomer),
            Method::POST,
            requests.into(),
            Some(json!({"spec": {"name": "Ref Agency", "country": "ZZ"}})),
            &["spec.country"],
        ),
        (
            By::Org(&mgmt),
            Method::POST,
            "/api/v1/artists".into(),
            Some(json!({"name": "Ref Two", "genres": ["ambient", "polka-dubstep"]})),
            &["genres[1]"],
        ),
        (
            By::Org(&mgmt),
            Method::POST,
            "/api/v1/artists".into(),
            Some(json!({"name": "Ref Two", "country": "ZZ", "city_id": NOWHERE})),
            &["country", "city_id"],
        ),
        (
            By::Org(&mgmt),
            Method::PATCH,
            artist.clone(),
            Some(json!({"genres": ["nope"]})),
            &["genres[0]"],
        ),
        (
            By::Org(&mgmt),
            Method::PATCH,
            artist.clone(),
            Some(json!({"city_id": NOWHERE})),
            &["city_id"],
        ),
        (
            By::Internal,
            Method::POST,
            "/internal/artists".into(),
            Some(json!({"name": "Ref Import", "country": "ZZ"})),
            &["country"],
        ),
        (
            By::Org(&mgmt),
            Method::PUT,
            profile.clone(),
            Some(json!({"territories": ["NL", "ZZ"]})),
            &["territories[1]"],
        ),
        (
            By::Org(&mgmt),
            Method::PUT,
            profile.clone(),
            Some(json!({"fee_min": 1, "fee_currency": "ZZZ"})),
            &["fee_currency"],
        ),
        (
            By::Org(&mgmt),
            Method::PUT,
            profile.clone(),
            Some(draw(&[&benelux, UNKNOWN])),
            &["draw_by_market[1].market_id"],
        ),
        (
            By::Org(&mgmt),
            Method::PUT,
            profile.clone(),
            Some(draw(&[&benelux, &benelux])),
            &["draw_by_market[1].market_id"],
        ),
        (
            By::Org(&mgmt),
            Method::GET,
            "/api/v1/artists?country=ZZ".into(),
            None,
            &["country"],
        ),
        (
            By::Org(&mgmt),
            Method::GET,
            format!("/api/v1/artists?city_id={NOWHERE}"),
            None,
            &["city_id"],
        ),
        (
            By::Org(&mgmt),
            Method::GET,
            format!("/api/v1/artists?market_id={UNKNOWN}"),
            None,
            &["market_id"],
        ),
        (
            By::Org(&mgmt),
            Method::GET,
            "/api/v1/artists?q=ref&genre=nope".into(),
            None,
            &["genre"],
        ),
        (
            By::Org(&mgmt),
            Method::GET,
            "/api/v1/artists-companies?country=ZZ".into(),
            None,
            &["country"],
        ),
        (
            By::Org(&mgmt),
            Method::GET,
            "/api/v1/artists-companies/sleeping?country=ZZ".into(),
            None,
            &["country"],
        ),
        (
            By::Org(&mgmt),
            Method::GET,
            "/api/v1/geo/cities?country=ZZ".into(),
            None,
            &["country"],
        ),
    ];
    let total = cases.len();
    let mut failures = Vec::new();
    for (by, method, path, body, fields) in cases {
        let before = snapshot(&app.pool).await;
        let mut request = match by {
            By::Org(org) => org.req(&app, method.clone(), &path),
            By::Internal => app.internal(method.clone(), &path),
        };
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let named: Vec<&str> = answer["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
            .filter_map(|e| e["field"].as_str())
            .collect();
        if (status, answer["code"].as_str(), named.as_slice())
            != (422, Some("validation_failed"), fields)
        {
            failures.push(format!("{method} {path} {body:?}: {status} {answer}"));
        }
        if snapshot(&app.pool).await != before {
            failures.push(format!("{method} {path} {body:?}: state changed"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The same routes take known values.
    let filters = format!(
        "/api/v1/artists?country=nl&city_id={AMSTERDAM}&market_id={benelux}&genre=electronic"
    );
    for path in [
        filters.as_str(),
        "/api/v1/artists-companies?country=nl",
        "/api/v1/artists-companies/sleeping?country=NL",
        "/api/v1/geo/cities?country=nl",
    ] {
        let (status, body) = mgmt.get(&app, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, body) = mgmt
        .send(
            &app,
            Method::PUT,
            &profile,
            Some(
                json!({"territories": ["nl", "BE"], "fee_min": 1, "fee_currency": "eur",
                        "draw_by_market": [{"market_id": benelux, "draw": 900}]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = newcomer
        .send(
            &app,
            Method::POST,
            requests,
            Some(json!({"spec": {"name": "Ref Agency", "country": "nl", "city_id": AMSTERDAM}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Runs a write that the database must refuse; the field its error names.
async fn refused(pool: &PgPool, sql: &'static str, id: &str) -> String {
    let error = sqlx::query(sql)
        .bind(id)
        .execute(pool)
        .await
        .expect_err(sql);
    match DomainError::from(error) {
        DomainError::Validation(errors) if errors.len() == 1 => errors[0].field.clone(),
        other => panic!("{sql}: {other:?}"),
    }
}

/// What the API checks first, the database holds on its own: a write that
/// skips the API is refused, and the error names the same field.
#[tokio::test]
async fn the_database_refuses_unknown_reference_data_with_the_same_fields() {
    let app = TestApp::spawn().await;
    let p = booking_parties(&app, "Keys Agency", "Keys Artist", &[]).await;
    let (agency, promoter) = (&p.agency, &p.promoter);
    let show = Utc::now().date_naive() + Duration::days(40);
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": show,
        "venue": {"name": "Paradiso", "city_id": AMSTERDAM},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 100_000},
        "expires_at": Utc::now() + Duration::days(3), "send": true,
    });
    let (status, offer) = promoter
        .send(&app, Method::POST, "/api/v1/offers", Some(offer))
        .await;
    assert_eq!(status, 201, "{offer}");
    let offer = offer["id"].as_str().unwrap().to_owned();
    let (status, _) = agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/offers/{offer}/accept"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, booking) = promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": offer})),
        )
        .await;
    assert_eq!(status, 201, "{booking}");
    let booking = booking["id"].as_str().unwrap().to_owned();
    let request = json!({"artist_id": p.artist, "promoter_company_id": p.promoter_company,
                         "event_date": show, "venue": {"city_id": AMSTERDAM}});
    let (status, request) = promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/booking-requests",
            Some(request),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let request = request["id"].as_str().unwrap().to_owned();
    let window = json!({"starts_on": show, "ends_on": show, "status": "available",
                        "territory": {"countries": ["NL"]}});
    let (status, window) = agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists/{}/availabilities", p.artist),
            Some(window),
        )
        .await;
    assert_eq!(status, 201, "{window}");
    let window = window["id"].as_str().unwrap().to_owned();
    let pool = &app.pool;

    let cases: [(&'static str, &str, &str); 11] = [
        ("INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
          VALUES ($1::uuid, 2, '{\"type\": \"flat\", \"currency\": \"ZZZ\"}', 'agency', 'sql')",
         &offer, "deal.currency"),
        ("UPDATE offers SET venue = '{\"city_id\": 999999999}' WHERE id = $1::uuid", &offer, "venue.city_id"),
        ("UPDATE bookings SET deal = deal || '{\"currency\": \"ZZZ\"}' WHERE id = $1::uuid", &booking,
         "deal.currency"),
        ("UPDATE booking_requests SET venue = '{\"city_id\": 999999999}' WHERE id = $1::uuid", &request,
         "venue.city_id"),
        ("UPDATE availabilities SET areas = '{NL,ZZ}' WHERE id = $1::uuid", &window, "territory"),
        ("UPDATE availabilities SET market_ids = '{0190a0a0-0000-7000-8000-000000000000}' WHERE id = $1::uuid",
         &window, "territory.market_ids"),
        ("UPDATE roster_links SET worldwide = false, areas = '{US-ZZ}' WHERE artist_id = $1::uuid", &p.artist,
         "territory"),
        ("INSERT INTO artist_profiles (artist_id, territories) VALUES ($1::uuid, '{NL,QQ}')", &p.artist,
         "territories"),
        ("INSERT INTO artist_profiles (artist_id, draw_by_market)
          VALUES ($1::uuid, '[{\"market_id\": \"0190a0a0-0000-7000-8000-000000000000\", \"draw\": 1}]')",
         &p.artist, "draw_by_market"),
        ("UPDATE companies SET city_id = 999999999 WHERE id = $1::uuid", &p.promoter_company, "city_id"),
        ("INSERT INTO artist_profiles (artist_id, fee_min, fee_currency) VALUES ($1::uuid, 1, 'ZZZ')",
         &p.artist, "fee_currency"),
    ];
    for (sql, id, field) in cases {
        assert_eq!(refused(pool, sql, id).await, field, "{sql}");
    }
    // Known values pass the same keys.
    sqlx::query("UPDATE availabilities SET areas = '{NL,US-CA}' WHERE id = $1::uuid")
        .bind(&window)
        .execute(pool)
        .await
        .unwrap();
    // A clean database has every new key validated, not merely NOT VALID.
    let unvalidated: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint
          WHERE conname IN ('offer_versions_deal_currency_fkey', 'bookings_deal_currency_fkey',
                            'booking_requests_venue_city_fkey', 'offers_venue_city_fkey')
            AND NOT convalidated",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(unvalidated, Vec::<String>::new());
    let violations: i64 = sqlx::query_scalar("SELECT count(*) FROM reference_violations")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(violations, 0);
}

/// Rows written before the keys existed: the migration succeeds, keeps the
/// keys of affected tables NOT VALID (new writes are refused at once),
/// validates the others, and `reference_violations` names every bad row.
#[tokio::test]
async fn the_reference_keys_migration_reports_rows_written_before_it() {
    let db = TestDb::empty().await;
    let pool = db.pool().await;
    shared::jobs::queue::migrator().run(&pool).await.unwrap();
    let migrator = &shared::db::MIGRATOR;
    let previous = migrator
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < REFERENCE_KEYS)
        .max()
        .unwrap();
    migrator.run_to(previous, &pool).await.unwrap();
    shared::reference::load(&pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO companies (id, kind, name) VALUES
             ('00000000-0000-7000-8000-00000000000a', 'agency', 'Old Agency'),
             ('00000000-0000-7000-8000-00000000000b', 'promoter', 'Old Promoter');
         INSERT INTO artists (id, name) VALUES ('00000000-0000-7000-8000-0000000000a1', 'Old Artist');
         INSERT INTO offers (id, artist_id, promoter_company_id, agency_company_id, event_date, venue,
                             status, written_by_side, expires_at, created_by)
         SELECT id::uuid, '00000000-0000-7000-8000-0000000000a1', '00000000-0000-7000-8000-00000000000b',
                '00000000-0000-7000-8000-00000000000a', '2027-06-01', venue::jsonb, 'sent', 'agency',
                now() + interval '1 day', 'legacy'
           FROM (VALUES ('00000000-0000-7000-8000-0000000000f1', '{\"city_id\": 999999999}'),
                        ('00000000-0000-7000-8000-0000000000f2', '{\"city_id\": 2759794}')) v (id, venue);
         INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by) VALUES
             ('00000000-0000-7000-8000-0000000000f1', 1, '{\"type\": \"flat\", \"currency\": \"EUR\"}', 'agency', 'legacy'),
             ('00000000-0000-7000-8000-0000000000f2', 1, '{\"type\": \"flat\", \"currency\": \"ZZZ\"}', 'agency', 'legacy');
         INSERT INTO artist_profiles (artist_id, territories) VALUES ('00000000-0000-7000-8000-0000000000a1', '{NL,QQ}');",
    )
    .execute(&pool)
    .await
    .unwrap();

    migrator
        .run(&pool)
        .await
        .expect("the migration reports, it does not fail");

    let violations: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name, row_id, field, value, constraint_name FROM reference_violations
          ORDER BY table_name, row_id, field",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let row = |t: &str, id: &str, f: &str, v: &str, c: &str| {
        (
            t.to_owned(),
            id.to_owned(),
            f.to_owned(),
            v.to_owned(),
            Some(c.to_owned()),
        )
    };
    assert_eq!(
        violations,
        vec![
            row(
                "artist_profiles",
                "00000000-0000-7000-8000-0000000000a1",
                "territories",
                "QQ",
                "artist_profiles_territories_fkey"
            ),
            row(
                "offer_versions",
                "00000000-0000-7000-8000-0000000000f2/1",
                "deal.currency",
                "ZZZ",
                "offer_versions_deal_currency_fkey"
            ),
            row(
                "offers",
                "00000000-0000-7000-8000-0000000000f1",
                "venue.city_id",
                "999999999",
                "offers_venue_city_fkey"
            ),
        ]
    );
    let validated: Vec<(String, bool)> = sqlx::query_as(
        "SELECT conname::text, convalidated FROM pg_constraint
          WHERE conname IN ('offer_versions_deal_currency_fkey', 'bookings_deal_currency_fkey',
                            'booking_requests_venue_city_fkey', 'offers_venue_city_fkey')
          ORDER BY conname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("booking_requests_venue_city_fkey", true),
        ("bookings_deal_currency_fkey", true),
        ("offer_versions_deal_currency_fkey", false),
        ("offers_venue_city_fkey", false),
    ]
    .map(|(c, v)| (c.to_owned(), v));
    assert_eq!(validated, expected);

    // The old rows still move through their states; new bad values are refused.
    sqlx::query(
        "UPDATE offers SET status = 'withdrawn' WHERE id = '00000000-0000-7000-8000-0000000000f1'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let field = refused(
        &pool,
        "INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
         VALUES ($1::uuid, 2, '{\"type\": \"flat\", \"currency\": \"XQZ\"}', 'agency', 'sql')",
        "00000000-0000-7000-8000-0000000000f1",
    )
    .await;
    assert_eq!(field, "deal.currency");

    // Once fixed, the rows leave the view and the key validates.
    sqlx::raw_sql(
        "UPDATE offer_versions SET deal = deal || '{\"currency\": \"EUR\"}'
          WHERE offer_id = '00000000-0000-7000-8000-0000000000f2';
         ALTER TABLE offer_versions VALIDATE CONSTRAINT offer_versions_deal_currency_fkey;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reference_violations WHERE table_name = 'offer_versions'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    pool.close().await;
}

//! SPEC 5.8: dashboards, shortlist items and the marketplace, read from
//! the read models the worker keeps, through HTTP and the real worker.

use std::time::Duration;

use chrono::Utc;
use kisum_tests::{BookingParties, Org, TestApp, WorkerProcess, eventually, problem};
use reqwest::Method;
use serde_json::{Value, json};

fn day(offset: i64) -> chrono::NaiveDate {
    Utc::now().date_naive() + chrono::Duration::days(offset)
}

fn offer(p: &BookingParties, days: i64) -> Value {
    json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": day(days),
        "venue": {"name": "Paradiso", "city_id": 2759794, "capacity": 1500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 750_000},
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    })
}

/// Waits until no read-model key is waiting, so what the API reads is
/// current.
async fn settled(app: &TestApp) {
    eventually(
        Duration::from_secs(30),
        "the read models are refreshed",
        || async {
            let dirty: i64 = sqlx::query_scalar("SELECT count(*) FROM read_model_dirty")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            (dirty == 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_confirmed_booking_reaches_both_dashboards_after_the_worker_runs() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Board Agency", "Board Artist", &[]).await;
    let booking = kisum_tests::confirmed_booking(&app, &p, offer(&p, 30)).await;
    // A read never computes: before the worker, nothing is there.
    let (status, before) = p.agency.get(&app, "/api/v1/dashboards/agency").await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["upcoming_bookings"], json!([]), "{before}");
    assert_eq!(before["refreshed_at"], Value::Null);

    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    // A hold expiring tomorrow, and an offer from the promoter awaiting us.
    let hold = json!({"artist_id": p.artist, "date": day(45), "promoter_company_id": p.promoter_company,
                      "expires_at": Utc::now() + chrono::Duration::hours(20)});
    let (status, hold) = p
        .agency
        .send(&app, Method::POST, "/api/v1/holds", Some(hold))
        .await;
    assert_eq!(status, 201, "{hold}");
    let (status, waiting) = p
        .promoter
        .send(&app, Method::POST, "/api/v1/offers", Some(offer(&p, 60)))
        .await;
    assert_eq!(status, 201, "{waiting}");
    settled(&app).await;

    let (_, agency) = p.agency.get(&app, "/api/v1/dashboards/agency").await;
    assert_eq!(
        agency["upcoming_bookings"][0]["booking_id"],
        booking.as_str(),
        "{agency}"
    );
    assert_eq!(agency["upcoming_bookings"][0]["venue_name"], "Paradiso");
    assert_eq!(agency["holds_expiring"][0]["id"], hold["id"], "{agency}");
    assert_eq!(agency["offers_awaiting_us"], 1, "{agency}");
    assert_eq!(agency["offers"][0]["id"], waiting["id"]);
    let month = day(30).format("%Y-%m").to_string();
    let fees = agency["fees_by_month"].as_array().unwrap();
    assert!(
        fees.iter().any(|f| f["month"] == month.as_str()
            && f["currency"] == "EUR"
            && f["amount"] == 750_000),
        "{agency}"
    );
    assert_eq!(agency["fee_series"][0]["name"], "EUR");
    assert_eq!(
        agency["fee_series"][0]["labels"].as_array().unwrap().len(),
        24
    );
    assert!(agency["refreshed_at"].is_string());

    let (_, promoter) = p.promoter.get(&app, "/api/v1/dashboards/promoter").await;
    assert_eq!(
        promoter["upcoming_bookings"][0]["booking_id"],
        booking.as_str(),
        "{promoter}"
    );
    assert_eq!(promoter["offers_by_state"]["accepted"], 1, "{promoter}");
    assert_eq!(promoter["offers_by_state"]["sent"], 1, "{promoter}");

    // Each org sees its own: the promoter's agency dashboard and an
    // outsider's show none of this, and another org's company is 404.
    let (_, theirs) = p.promoter.get(&app, "/api/v1/dashboards/agency").await;
    assert_eq!(theirs["upcoming_bookings"], json!([]), "{theirs}");
    assert_eq!(theirs["offers_awaiting_us"], 0);
    let outsider = Org::new();
    for path in ["/api/v1/dashboards/agency", "/api/v1/dashboards/promoter"] {
        let (status, body) = outsider.get(&app, path).await;
        assert_eq!(status, 200);
        assert!(!body.to_string().contains(&booking), "{body}");
        let foreign = format!("{path}?company_id={}", p.agency_company);
        let response = outsider
            .req(&app, Method::GET, &foreign)
            .send()
            .await
            .unwrap();
        problem(response, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_burst_of_fifty_writes_to_one_artist_is_refreshed_once() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Burst Board", "Burst Board Artist", &[]).await;
    settled_without_worker(&app).await;
    let windows = format!("/api/v1/artists/{}/availabilities", p.artist);
    for i in 0..50 {
        let body = json!({"starts_on": day(10 + i * 2), "ends_on": day(10 + i * 2), "status": "available",
                          "territory": {"worldwide": true}, "published": true});
        let (status, window) = p
            .agency
            .send(&app, Method::POST, &windows, Some(body))
            .await;
        assert_eq!(status, 201, "{window}");
    }
    let jobs = |model: &'static str| {
        let pool = app.pool.clone();
        async move {
            kisum_tests::queue::jobs(&pool, "read_model_refresh")
                .await
                .iter()
                .filter(|j| j.payload["model"] == model)
                .count()
        }
    };
    assert_eq!(jobs("artist_search").await, 1, "fifty marks, one job");
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    settled(&app).await;
    assert_eq!(jobs("artist_search").await, 1);
    let open: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM unnest(open_days)) FROM artist_search WHERE artist_id = $1::uuid",
    )
    .bind(&p.artist)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(open, 50, "fifty separate open days");
}

/// Clears what the setup marked, as a worker would have, without one.
async fn settled_without_worker(app: &TestApp) {
    sqlx::raw_sql("DELETE FROM read_model_dirty")
        .execute(&app.pool)
        .await
        .unwrap();
    kisum_tests::queue::delete(&app.pool, "read_model_refresh").await;
}

async fn read_models(app: &TestApp) -> (Vec<Value>, Vec<Value>) {
    let search: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(s) - 'refreshed_at' FROM artist_search s ORDER BY artist_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let dashboards: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(d) - 'refreshed_at' FROM company_dashboards d
          WHERE company_id IN (SELECT company_id FROM read_model_touched) ORDER BY company_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    (search, dashboards)
}

#[tokio::test]
async fn the_rebuild_gives_the_rows_the_incremental_path_gave() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p =
        kisum_tests::booking_parties(&app, "Rebuild Agency", "Rebuild Artist", &["techno"]).await;
    kisum_tests::confirmed_booking(&app, &p, offer(&p, 20)).await;
    let windows = format!("/api/v1/artists/{}/availabilities", p.artist);
    let body = json!({"starts_on": day(5), "ends_on": day(40), "status": "available",
                      "territory": {"worldwide": true}, "published": true});
    let (status, _) = p
        .agency
        .send(&app, Method::POST, &windows, Some(body))
        .await;
    assert_eq!(status, 201);
    settled(&app).await;
    // The companies the incremental path wrote; the rebuild also writes
    // rows for every other company (empty ones), compared separately.
    sqlx::raw_sql("CREATE TABLE read_model_touched AS SELECT company_id FROM company_dashboards")
        .execute(&app.pool)
        .await
        .unwrap();
    let incremental = read_models(&app).await;
    assert_eq!(incremental.0.len(), 1, "{incremental:?}");
    assert_eq!(incremental.1.len(), 2, "{incremental:?}");
    // Drift: a lost search row and a wrong dashboard.
    sqlx::raw_sql(
        "DELETE FROM artist_search;
         UPDATE company_dashboards SET agency = '{}', promoter = '{}'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    shared::jobs::enqueue_tick::<shared::jobs::ReadModelRebuild>(&mut conn, 1_790_000_000)
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "the rebuild runs", || async {
        let done = kisum_tests::queue::count_done(&app.pool, "read_model_rebuild").await;
        (done > 0).then_some(())
    })
    .await;
    assert_eq!(read_models(&app).await, incremental);
}

/// An artist of the agency with a genre, a home country, a fee and a
/// published window.
async fn listed(
    app: &TestApp,
    p: &BookingParties,
    name: &str,
    genre: &str,
    country: &str,
    fee: i64,
    open: (i64, i64),
) -> String {
    let body = json!({"name": name, "company_id": p.agency_company, "genres": [genre], "country": country});
    let (status, artist) = p
        .agency
        .send(app, Method::POST, "/api/v1/artists", Some(body))
        .await;
    assert_eq!(status, 201, "{artist}");
    let id = artist["id"].as_str().unwrap().to_owned();
    let roster = json!({"artist_id": id, "role": "booking", "territory": {"worldwide": true}});
    let (status, body) = p
        .agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/artists-companies/{}/roster", p.agency_company),
            Some(roster),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let profile = json!({"fee_min": fee, "fee_max": fee * 2, "fee_currency": "EUR"});
    let (status, body) = p
        .agency
        .send(
            app,
            Method::PUT,
            &format!("/api/v1/artists/{id}/profile"),
            Some(profile),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let window = json!({"starts_on": day(open.0), "ends_on": day(open.1), "status": "available",
                        "territory": {"worldwide": true}, "published": true});
    let (status, body) = p
        .agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/artists/{id}/availabilities"),
            Some(window),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_marketplace_finds_a_misspelled_name_and_respects_every_filter() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p = kisum_tests::booking_parties(&app, "Market Agency", "Roster Filler", &[]).await;
    listed(
        &app,
        &p,
        "Nightingale Collective",
        "techno",
        "NL",
        500_000,
        (10, 20),
    )
    .await;
    listed(
        &app,
        &p,
        "Nightshift Orchestra",
        "opera",
        "DE",
        2_000_000,
        (50, 60),
    )
    .await;
    listed(
        &app,
        &p,
        "Amber Vale",
        "deep-house",
        "NL",
        300_000,
        (15, 16),
    )
    .await;
    settled(&app).await;
    let search = |query: &str| {
        let path = format!("/api/v1/marketplace/artists?{query}");
        let org = Org::new();
        let app = &app;
        async move {
            let (status, body) = org.get(app, &path).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    // A typo still finds the name.
    let found = search("q=Nightengale").await;
    assert_eq!(names(&found)[0], "Nightingale Collective", "{found}");
    assert!(found["items"][0]["relevance"].as_f64().unwrap() > 0.0);
    // The parent genre finds its subgenres' artists; a subgenre only its own.
    let electronic = search("genre=electronic").await;
    let mut got = names(&electronic);
    got.sort();
    assert_eq!(
        got,
        ["Amber Vale", "Nightingale Collective"],
        "{electronic}"
    );
    assert_eq!(
        names(&search("genre=techno").await),
        ["Nightingale Collective"]
    );
    assert_eq!(names(&search("country=DE").await), ["Nightshift Orchestra"]);
    let fee = search("max_fee=400000&currency=EUR").await;
    assert_eq!(names(&fee), ["Amber Vale"], "{fee}");
    let window = format!("available_from={}&available_to={}", day(14), day(15));
    let open = search(&window).await;
    let mut got = names(&open);
    got.sort();
    assert_eq!(got, ["Amber Vale", "Nightingale Collective"], "{open}");
    assert_eq!(open["items"][0]["open_dates"].as_array().unwrap().len(), 2);
    let benelux: Value =
        sqlx::query_scalar("SELECT to_jsonb(id::text) FROM markets WHERE slug = 'benelux'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let market = search(&format!("market_id={}", benelux.as_str().unwrap())).await;
    assert_eq!(market["total"], 2, "{market}");
    // All filters at once.
    let all = search(&format!(
        "q=nightingale&genre=electronic&country=NL&max_fee=600000&{window}"
    ))
    .await;
    assert_eq!(names(&all), ["Nightingale Collective"], "{all}");
    // Facets count all the results, by genre (parents included) and country.
    assert_eq!(electronic["total"], 2);
    assert_eq!(
        electronic["facets"]["countries"],
        json!([{"value": "NL", "count": 2}]),
        "{electronic}"
    );
    let genres = electronic["facets"]["genres"].as_array().unwrap();
    for (genre, count) in [("electronic", 2), ("techno", 1), ("deep-house", 1)] {
        assert!(
            genres
                .iter()
                .any(|g| g["value"] == genre && g["count"] == count),
            "{genre}: {electronic}"
        );
    }
    // Keyset paging walks every result once, in every sort.
    for sort in ["name", "fee", "availability", "trust"] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = search(&format!("sort={sort}&limit=1&cursor={cursor}")).await;
            seen.extend(names(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break,
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 4, "{sort}: {seen:?}");
    }
    let by_fee = search("sort=fee").await;
    assert_eq!(names(&by_fee)[0], "Amber Vale");
    // Bad input is 422.
    for bad in [
        "max_fee=-1",
        "available_from=2027-01-01",
        "available_from=2027-02-01&available_to=2027-01-01",
        "genre=polka-dubstep",
        "country=XX",
        "cursor=nonsense",
    ] {
        let response = Org::new()
            .req(
                &app,
                Method::GET,
                &format!("/api/v1/marketplace/artists?{bad}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
    let response = Org::new()
        .req(
            &app,
            Method::GET,
            "/api/v1/marketplace/artists?sort=loudest",
        )
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_query").await;
}

/// The API serves the marketplace from its own index of `artist_search`:
/// a change of a row reaches search results as soon as the row is
/// rewritten, and an artist whose row is gone leaves them.
#[tokio::test]
async fn marketplace_results_follow_changed_and_removed_rows() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p = kisum_tests::booking_parties(&app, "Follow Agency", "Follow Filler", &[]).await;
    let kept = listed(
        &app,
        &p,
        "Lanterna Quartet",
        "techno",
        "NL",
        500_000,
        (10, 20),
    )
    .await;
    let gone = listed(&app, &p, "Lanterna Trio", "techno", "NL", 500_000, (10, 20)).await;
    settled(&app).await;
    let org = Org::new();
    let search = |query: String| {
        let (org, app) = (&org, &app);
        async move {
            let (status, body) = org
                .get(app, &format!("/api/v1/marketplace/artists?{query}"))
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let mut both = names(&search("q=lanterna".into()).await);
    both.sort();
    assert_eq!(both, ["Lanterna Quartet", "Lanterna Trio"]);
    // A new open day: the window finds the artist once its row is rewritten.
    let window = format!(
        "q=lanterna&available_from={}&available_to={}",
        day(90),
        day(90)
    );
    assert_eq!(names(&search(window.clone()).await), Vec::<String>::new());
    let body = json!({"starts_on": day(90), "ends_on": day(90), "status": "available",
                      "territory": {"worldwide": true}, "published": true});
    let (status, body) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists/{kept}/availabilities"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    settled(&app).await;
    assert_eq!(names(&search(window).await), ["Lanterna Quartet"]);
    // Archived: its row is removed, and so is its search result.
    let (status, body) = p
        .agency
        .send(
            &app,
            Method::DELETE,
            &format!("/api/v1/artists/{gone}"),
            None,
        )
        .await;
    assert!((200..300).contains(&status), "{status}: {body}");
    settled(&app).await;
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM artist_search WHERE artist_id = $1::uuid")
            .bind(&gone)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows, 0);
    let left = search("q=lanterna".into()).await;
    assert_eq!(names(&left), ["Lanterna Quartet"], "{left}");
    assert_eq!(left["total"], 1);
}

/// `refreshed_at` says from when the row is current: a write that
/// committed after the refresh's transaction began, but before the
/// statement that computed the row, is in the row, so the row's time is
/// not earlier than that write.
#[tokio::test]
async fn a_rows_refreshed_at_is_not_earlier_than_a_write_it_shows() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Clock Agency", "Clock Filler", &[]).await;
    let artist = listed(
        &app,
        &p,
        "Clockwork Ensemble",
        "techno",
        "NL",
        500_000,
        (10, 20),
    )
    .await;
    settled_without_worker(&app).await;
    let artist_id: uuid::Uuid = artist.parse().unwrap();
    // The worker's refresh: its transaction begins first.
    let mut refresh = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1")
        .execute(&mut *refresh)
        .await
        .unwrap();
    let write_began: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let body = json!({"starts_on": day(70), "ends_on": day(70), "status": "available",
                      "territory": {"worldwide": true}, "published": true});
    let (status, body) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists/{artist}/availabilities"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    shared::domain::read_models::search::refresh(&mut refresh, &[artist_id])
        .await
        .unwrap();
    refresh.commit().await.unwrap();
    let (shows, refreshed_at): (bool, chrono::DateTime<Utc>) = sqlx::query_as(
        "SELECT open_days @> $2::date, refreshed_at FROM artist_search WHERE artist_id = $1",
    )
    .bind(artist_id)
    .bind(day(70))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(shows, "the row shows the write");
    assert!(
        refreshed_at >= write_began,
        "refreshed_at {refreshed_at} is before the write it shows ({write_began})"
    );
}

/// A refresh that has drained an artist's mark holds it until it commits,
/// and its insert into `artist_search` checks the artist row (the foreign
/// key). A roster write of that artist meanwhile locks the artist row and
/// then waits for the mark: it must not hold the row so that the refresh
/// waits for it back (a deadlock, which Postgres ends by failing the
/// roster write with 409 `concurrent_update`). The test plays the worker:
/// it drains, waits until the roster write is blocked on its transaction,
/// then refreshes and commits.
#[tokio::test]
async fn a_roster_write_during_a_refresh_waits_for_it_instead_of_deadlocking() {
    use shared::domain::read_models::{self, Model};

    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Race Agency", "Race Artist", &[]).await;
    let body = json!({"name": "Race Newcomer", "company_id": p.agency_company});
    let (status, artist) = p
        .agency
        .send(&app, Method::POST, "/api/v1/artists", Some(body))
        .await;
    assert_eq!(status, 201, "{artist}");
    let id: uuid::Uuid = artist["id"].as_str().unwrap().parse().unwrap();

    // No worker runs: this transaction is the drain, holding the new
    // artist's mark.
    let mut drain = app.pool.begin().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *drain)
        .await
        .unwrap();
    let keys = read_models::drain(&mut drain, Model::ArtistSearch, 200)
        .await
        .unwrap();
    assert!(keys.contains(&id), "{keys:?}");

    let roster = json!({"artist_id": id, "role": "booking", "territory": {"worldwide": true}});
    let path = format!("/api/v1/artists-companies/{}/roster", p.agency_company);
    let write = p.agency.send(&app, Method::POST, &path, Some(roster));
    let refresh = async {
        eventually(
            Duration::from_secs(30),
            "the roster write waits for the drained mark",
            || async {
                let blocked: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))",
                )
                .bind(pid)
                .fetch_one(&app.pool)
                .await
                .unwrap();
                blocked.then_some(())
            },
        )
        .await;
        let refreshed = read_models::refresh(&mut drain, Model::ArtistSearch, &keys).await;
        let committed = drain.commit().await;
        (refreshed, committed)
    };
    let ((status, body), (refreshed, committed)) = tokio::join!(write, refresh);
    assert!(refreshed.is_ok(), "{refreshed:?}");
    assert!(committed.is_ok(), "{committed:?}");
    assert_eq!(status, 201, "{body}");
    // The write marked the artist again after the drain committed, so the
    // next refresh shows its agency.
    let marked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM read_model_dirty WHERE model = 'artist_search' AND key = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(marked, 1);
}

#[tokio::test]
async fn shortlist_items_are_private_ordered_and_annotated() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p = kisum_tests::booking_parties(&app, "List Agency", "List Artist", &[]).await;
    let a = listed(&app, &p, "First Pick", "techno", "NL", 100_000, (10, 12)).await;
    let b = listed(&app, &p, "Second Pick", "techno", "NL", 200_000, (30, 31)).await;
    let promoter = &p.promoter;
    let (status, list) = promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/shortlists",
            Some(json!({"name": "Summer"})),
        )
        .await;
    assert_eq!(status, 201);
    let items = format!("/api/v1/shortlists/{}/items", list["id"].as_str().unwrap());
    let (status, item) = promoter
        .send(
            &app,
            Method::POST,
            &items,
            Some(json!({"artist_id": a, "note": "headliner?"})),
        )
        .await;
    assert_eq!(status, 201, "{item}");
    assert_eq!(item["position"], 1);
    let (status, item) = promoter
        .send(
            &app,
            Method::POST,
            &items,
            Some(json!({"artist_id": b, "position": 1})),
        )
        .await;
    assert_eq!(status, 201, "{item}");
    let response = promoter
        .req(&app, Method::POST, &items)
        .json(&json!({"artist_id": a}))
        .send()
        .await
        .unwrap();
    problem(response, 409, "already_shortlisted").await;
    for bad in [
        json!({"artist_id": uuid::Uuid::now_v7()}),
        json!({"artist_id": a, "position": 0}),
        json!({"artist_id": a, "note": "x".repeat(2001)}),
    ] {
        let response = promoter
            .req(&app, Method::POST, &items)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
    settled(&app).await;
    let path = format!("/api/v1/shortlists/{}", list["id"].as_str().unwrap());
    let (_, detail) = promoter
        .get(&app, &format!("{path}?from={}&to={}", day(0), day(20)))
        .await;
    let order: Vec<&str> = detail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["artist_name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["Second Pick", "First Pick"], "{detail}");
    assert_eq!(detail["items"][1]["note"], "headliner?");
    assert_eq!(
        detail["items"][1]["annotation"]["open_dates"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{detail}"
    );
    assert_eq!(detail["items"][1]["annotation"]["fee_min"], 100_000);
    assert_eq!(detail["items"][0]["annotation"]["open_dates"], json!([]));
    let (_, plain) = promoter.get(&app, &path).await;
    assert_eq!(plain["items"][0]["annotation"], Value::Null);

    // Another org: 404 to read, add or remove.
    let other = &p.agency;
    let response = other.req(&app, Method::GET, &path).send().await.unwrap();
    problem(response, 404, "not_found").await;
    let response = other
        .req(&app, Method::POST, &items)
        .json(&json!({"artist_id": a}))
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
    let response = other
        .req(&app, Method::DELETE, &format!("{items}/{a}"))
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;

    // Removing the first moves the rest up.
    let response = promoter
        .req(&app, Method::DELETE, &format!("{items}/{b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, after) = promoter.get(&app, &path).await;
    assert_eq!(after["items"][0]["position"], 1, "{after}");
    assert_eq!(after["items"].as_array().unwrap().len(), 1);
}

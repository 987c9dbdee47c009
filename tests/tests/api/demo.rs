//! The demo data (`kisum-api seed-demo`): seeded twice into a fresh
//! database it is the same, and the story it tells is there through the API
//! for both demo orgs.

use chrono::{NaiveDate, Utc};
use kisum_tests::{Org, TestApp, Token, WorkerProcess, dead_job, internal_call};
use reqwest::Method;
use serde_json::Value;
use shared::demo::{DEMO_ORG, DEMO_PROMOTER_ORG};
use sqlx::PgPool;

/// Rows in every table the demo writes, the queue's included.
async fn counts(pool: &PgPool) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in [
        "companies",
        "artists_company_claims",
        "artists_provisioning_requests",
        "ownership_audit",
        "provider_references",
        "artists",
        "artist_genres",
        "artist_profiles",
        "roster_links",
        "availabilities",
        "shortlists",
        "booking_requests",
        "offers",
        "offer_versions",
        "holds",
        "bookings",
        "booking_activity",
        "contract_templates",
        "contracts",
        "contract_versions",
        "contract_signers",
        "contract_signatures",
        "contract_audit",
        "tours",
        "tour_stops",
        "itinerary_items",
        "logistics_proposals",
        "queue_canaries",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        counts.push((table.to_owned(), n));
    }
    counts.push((
        "job queue".to_owned(),
        kisum_tests::queue::count_all(pool).await,
    ));
    counts
}

fn org(id: uuid::Uuid) -> Org {
    Org {
        id,
        token: Token::member(id, "owner").hs256(),
    }
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().unwrap()
}

fn date(value: &Value) -> NaiveDate {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_demo_seeds_once_and_tells_its_story_through_the_api() {
    let app = TestApp::spawn().await;
    let story = shared::demo::seed(&app.pool).await.unwrap();
    let first = counts(&app.pool).await;
    assert!(first.iter().all(|(_, n)| *n > 0), "{first:?}");
    let again = shared::demo::seed(&app.pool).await.unwrap();
    assert_eq!(
        counts(&app.pool).await,
        first,
        "a second seed changes nothing"
    );
    assert_eq!(again.booking_id, story.booking_id);
    assert_eq!(again.contract_id, story.contract_id);
    assert_eq!(again.tour_id, story.tour_id);
    assert_eq!(again.countered_offer_id, story.countered_offer_id);
    let today = Utc::now().date_naive();
    let agency = org(DEMO_ORG);
    let promoter = org(DEMO_PROMOTER_ORG);

    let (_, mine) = agency.get(&app, "/api/v1/me/companies").await;
    let names: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Northern Lights Agency"]);
    let (_, mine) = promoter.get(&app, "/api/v1/me/companies").await;
    let kinds: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"promoter") && kinds.contains(&"venue"),
        "{kinds:?}"
    );

    // The roster: artists with profiles and published windows ahead.
    let (status, roster) = promoter
        .get(
            &app,
            &format!(
                "/api/v1/artists-companies/{}/roster",
                story.agency_company_id
            ),
        )
        .await;
    assert_eq!(status, 200);
    let roster = roster.as_array().unwrap();
    assert_eq!(roster.len(), 4);
    for link in roster {
        let artist = link["artist_id"].as_str().unwrap();
        let (_, profile) = promoter
            .get(&app, &format!("/api/v1/artists/{artist}/profile"))
            .await;
        assert!(profile["fee_min"].as_i64().unwrap() > 0, "{profile}");
        let (_, windows) = promoter
            .get(&app, &format!("/api/v1/artists/{artist}/availabilities"))
            .await;
        let windows = windows.as_array().unwrap();
        assert!(!windows.is_empty(), "{artist} has published windows");
        assert!(windows.iter().all(|w| w["published"] == true));
        assert!(windows.iter().all(|w| date(&w["ends_on"]) > today));
    }

    // The inquiry: open, incoming for the agency, outgoing for the promoter.
    let (_, incoming) = agency
        .get(&app, "/api/v1/booking-requests?role=incoming")
        .await;
    let inquiry = items(&incoming)
        .iter()
        .find(|r| r["id"] == story.inquiry_id.to_string())
        .expect("the inquiry reaches the agency");
    assert_eq!(inquiry["status"], "open");
    assert!(date(&inquiry["event_date"]) > today);
    let (_, outgoing) = promoter
        .get(&app, "/api/v1/booking-requests?role=outgoing")
        .await;
    assert!(
        items(&outgoing)
            .iter()
            .any(|r| r["id"] == story.inquiry_id.to_string())
    );

    // The offer: the agency's quote, the promoter's counter.
    let offer_path = format!("/api/v1/offers/{}", story.countered_offer_id);
    let (_, offer) = agency.get(&app, &offer_path).await;
    assert_eq!(offer["status"], "countered");
    assert_eq!(offer["current_version"], 2);
    assert_eq!(offer["written_by"], "promoter");
    let (_, versions) = promoter.get(&app, &format!("{offer_path}/versions")).await;
    let authors: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["written_by"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["agency", "promoter"]);

    // Holds 1 and 2 on one date, for two promoters; the demo promoter sees
    // its own, second in line.
    let holds_path = format!(
        "/api/v1/holds?artist_id={}&date={}",
        story.held_artist_id, story.hold_date
    );
    let (_, holds) = agency.get(&app, &holds_path).await;
    let mut held: Vec<(i64, &str, &str)> = items(&holds)
        .iter()
        .map(|h| {
            (
                h["priority"].as_i64().unwrap(),
                h["status"].as_str().unwrap(),
                h["promoter_company_id"].as_str().unwrap(),
            )
        })
        .collect();
    held.sort();
    assert_eq!(held.len(), 2, "{holds}");
    assert_eq!((held[0].0, held[0].1), (1, "active"));
    assert_eq!((held[1].0, held[1].1), (2, "active"));
    assert_ne!(held[0].2, held[1].2);
    assert_eq!(held[1].2, story.promoter_company_id.to_string());
    assert!(story.hold_date > today);
    let (_, theirs) = promoter.get(&app, &holds_path).await;
    let priorities: Vec<i64> = items(&theirs)
        .iter()
        .map(|h| h["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(priorities, [2]);

    // The booking and its whole trail, as either party sees it.
    let booking_path = format!("/api/v1/bookings/{}", story.booking_id);
    let (_, booking) = promoter.get(&app, &booking_path).await;
    assert_eq!(booking["status"], "confirmed");
    assert!(date(&booking["event_date"]) > today);
    for side in [&agency, &promoter] {
        let (_, trail) = side.get(&app, &format!("{booking_path}/activity")).await;
        let steps: Vec<String> = trail
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{}:{}", a["subject_type"], a["action"]).replace('"', ""))
            .collect();
        assert_eq!(
            steps,
            [
                "request:requested",
                "request:converted",
                "offer:written",
                "offer:accepted",
                "hold:placed",
                "hold:converted",
                "booking:confirmed",
                "contract:created",
                "contract:sent",
                "contract:signed",
                "proposal:submitted",
            ]
        );
    }

    // Its contract: signed by the promoter, awaiting the agency.
    let (_, contract) = agency
        .get(&app, &format!("/api/v1/contracts/{}", story.contract_id))
        .await;
    assert_eq!(contract["status"], "partially_signed", "{contract}");
    assert_eq!(contract["booking_id"], story.booking_id.to_string());
    let signed: Vec<&str> = contract["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(signed, ["signed", "pending"]);

    // The tour around the booking: routed for the agency; the promoter reads
    // the show day's shared times and sees its hotel proposal waiting.
    let tour = format!("/api/v1/tours/{}", story.tour_id);
    let (status, routing) = agency.get(&app, &format!("{tour}/routing")).await;
    assert_eq!(status, 200, "{routing}");
    assert_eq!(routing["legs"].as_array().unwrap().len(), 2, "{routing}");
    let (_, stops) = agency.get(&app, &format!("{tour}/stops")).await;
    let show_day = stops["items"][1]["date"].as_str().unwrap().to_owned();
    assert_eq!(stops["items"][1]["kind"], "show");
    let (status, sheet) = promoter
        .get(&app, &format!("{tour}/day-sheets/{show_day}"))
        .await;
    assert_eq!(status, 200, "{sheet}");
    let kinds: Vec<&str> = sheet["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["load_in", "soundcheck", "doors", "set"]);
    let (_, proposals) = agency
        .get(
            &app,
            &format!("/api/v1/bookings/{}/logistics-proposals", story.booking_id),
        )
        .await;
    assert_eq!(proposals["items"][0]["status"], "submitted", "{proposals}");

    // The canary fails every attempt: a worker makes it the dead job on /ops.
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let dead = dead_job(&app, "queue_canary").await;
    assert_eq!(dead["state"], "dead");
    let (status, canary) = internal_call(
        &app,
        Method::GET,
        &format!("/internal/ops/canaries/{}", story.canary_id),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(canary["completions"], 0);
    assert!(canary["attempts"].as_i64().unwrap() >= 5, "{canary}");
}

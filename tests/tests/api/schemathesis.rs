//! The schemathesis guard: schemathesis (pinned in
//! `tests/schemathesis/requirements.txt`) generates requests from the served
//! OpenAPI document and runs them against a real API with the demo data, as
//! two tenants that are peers (the demo agency's org and another agency's,
//! which never share a record),
//! checking that nothing answers 5xx, that every status, content type and
//! body is the documented one, that deleted records stay gone, and that no
//! tenant reads what only the other may see. Config and runner:
//! `tests/schemathesis/`. `./deploy/dev.sh test` makes the venv; without it
//! this test fails rather than passing unseen.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kisum_tests::{INTERNAL_KEY, Org, TestApp, Token};
use reqwest::Method;
use serde_json::json;
use shared::demo::DEMO_ORG;
use uuid::Uuid;

/// The demo's promoter org; the setup below makes a deal between it and the
/// demo agency, whose records the rival agency must not see.
const PROMOTER_ORG: Uuid = shared::demo::DEMO_PROMOTER_ORG;

/// schemathesis.toml stops the run at 180 s; this is the hard stop.
const BUDGET: Duration = Duration::from_secs(300);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The venv `dev.sh` makes, or the test fails saying how to get it.
fn venv_python(root: &Path) -> PathBuf {
    let venv = std::env::var_os("SCHEMATHESIS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".dev/schemathesis-venv"));
    assert!(
        venv.join("bin/schemathesis").exists(),
        "the schemathesis test needs schemathesis in {}: run `./deploy/dev.sh test`, which \
         installs it from tests/schemathesis/requirements.txt (or set SCHEMATHESIS_VENV)",
        venv.display()
    );
    venv.join("bin/python")
}

/// A deal in the making between the two orgs: the demo agency books one of
/// its artists, and the promoter org, with a promoter company of its own,
/// asks to book that artist.
async fn story(app: &TestApp, agency: &Org, promoter: &Org) {
    let (agency_company, artist): (Uuid, Uuid) = sqlx::query_as(
        "SELECT c.id, a.id FROM companies c
           JOIN artists_company_claims cl ON cl.company_id = c.id AND cl.status = 'approved'
           JOIN artists a ON a.created_by_company_id = c.id
          WHERE cl.org_id = $1 AND c.kind = 'agency'
          ORDER BY a.id LIMIT 1",
    )
    .bind(agency.id)
    .fetch_one(&app.pool)
    .await
    .expect("the demo agency has artists");
    let (status, link) = agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/artists-companies/{agency_company}/roster"),
            Some(json!({"artist_id": artist, "role": "booking", "territory": {"worldwide": true}})),
        )
        .await;
    assert!(matches!(status, 201 | 409), "{status} {link}");
    let (status, company) = promoter
        .send(
            app,
            Method::POST,
            "/api/v1/artists-companies",
            Some(json!({"kind": "promoter", "name": "Harbour Lights Presents", "country": "NL"})),
        )
        .await;
    assert_eq!(status, 201, "{company}");
    let event_date = (chrono::Utc::now() + chrono::Duration::days(60)).date_naive();
    let (status, request) = promoter
        .send(
            app,
            Method::POST,
            "/api/v1/booking-requests",
            Some(json!({
                "artist_id": artist, "promoter_company_id": company["id"], "event_date": event_date,
                "venue": {"name": "Paradiso", "capacity": 1500}, "message": "Friday headline?"
            })),
        )
        .await;
    assert_eq!(status, 201, "{request}");

    // The agency answers with an offer and holds the date; on another date
    // the promoter accepts the agency's offer and confirms the booking.
    let offer = |date: chrono::NaiveDate, request: Option<&serde_json::Value>| {
        json!({
            "artist_id": artist, "promoter_company_id": company["id"], "event_date": date,
            "booking_request_id": request.map(|r| r["id"].clone()),
            "venue": {"name": "Paradiso", "capacity": 1500},
            "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 500_000},
            "expires_at": chrono::Utc::now() + chrono::Duration::days(7), "send": true,
        })
    };
    let (status, answer) = agency
        .send(
            app,
            Method::POST,
            "/api/v1/offers",
            Some(offer(event_date, Some(&request))),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let hold = json!({
        "artist_id": artist, "date": event_date, "promoter_company_id": company["id"],
        "offer_id": answer["id"], "expires_at": chrono::Utc::now() + chrono::Duration::days(5),
    });
    let (status, hold) = agency
        .send(app, Method::POST, "/api/v1/holds", Some(hold))
        .await;
    assert_eq!(status, 201, "{hold}");
    let (status, deal) = agency
        .send(
            app,
            Method::POST,
            "/api/v1/offers",
            Some(offer(event_date + chrono::Duration::days(1), None)),
        )
        .await;
    assert_eq!(status, 201, "{deal}");
    let accept = format!("/api/v1/offers/{}/accept", deal["id"].as_str().unwrap());
    let (status, accepted) = promoter.send(app, Method::POST, &accept, None).await;
    assert_eq!(status, 200, "{accepted}");
    let (status, booking) = promoter
        .send(
            app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": deal["id"]})),
        )
        .await;
    assert_eq!(status, 201, "{booking}");
}

#[tokio::test]
async fn schemathesis_finds_no_failure_against_the_served_document() {
    let root = workspace_root();
    let python = venv_python(&root);

    // Finance events configured, so their route answers as in production
    // (without a secret it is 503 by design).
    let app = TestApp::builder()
        .env(
            "FINANCE_EVENTS_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .spawn()
        .await;
    shared::demo::seed(&app.pool).await.unwrap();
    let token = |org: Uuid| Token::member(org, "owner").hs256();
    let agency = Org {
        id: DEMO_ORG,
        token: token(DEMO_ORG),
    };
    let promoter = Org {
        id: PROMOTER_ORG,
        token: token(PROMOTER_ORG),
    };
    story(&app, &agency, &promoter).await;
    // Another demo agency's org, owning nothing but its agency.
    let rival: Uuid = sqlx::query_scalar(
        "SELECT cl.org_id FROM artists_company_claims cl JOIN companies c ON c.id = cl.company_id
          WHERE cl.status = 'approved' AND c.kind = 'agency' AND cl.org_id NOT IN ($1, $2)
            AND NOT EXISTS (SELECT 1 FROM artists_company_claims o JOIN companies oc ON oc.id = o.company_id
                             WHERE o.org_id = cl.org_id AND o.status = 'approved' AND oc.kind <> 'agency')
          ORDER BY c.name LIMIT 1",
    )
    .bind(DEMO_ORG)
    .bind(PROMOTER_ORG)
    .fetch_one(&app.pool)
    .await
    .expect("the demo has other agencies");
    let rival = Org {
        id: rival,
        token: token(rival),
    };

    let dir = root.join("target/test-artifacts/schemathesis");
    std::fs::create_dir_all(&dir).unwrap();
    let identity = |name: &str, org: &Org| {
        json!({"name": name, "fixedHeaders": [
            {"name": "Authorization", "value": format!("Bearer {}", org.token)},
            {"name": "x-org", "value": org.id.to_string()},
        ]})
    };
    let wfc = dir.join("wfc-auth.json");
    std::fs::write(
        &wfc,
        json!({"auth": [identity("agency", &agency), identity("rival", &rival)]}).to_string(),
    )
    .unwrap();

    // Real ids for half of the generated path ids (schemathesis.toml).
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "(SELECT c.id FROM companies c JOIN artists_company_claims cl ON cl.company_id = c.id
           WHERE cl.status = 'approved' AND cl.org_id IN ($1, $2))
         UNION ALL (SELECT artist_id FROM roster_links)
         UNION ALL (SELECT id FROM booking_requests)
         UNION ALL (SELECT id FROM offers)
         UNION ALL (SELECT id FROM holds)
         UNION ALL (SELECT id FROM bookings)
         UNION ALL (SELECT id FROM shortlists WHERE org_id IN ($1, $2))",
    )
    .bind(DEMO_ORG)
    .bind(PROMOTER_ORG)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(ids.len() >= 5, "{ids:?}");
    let dictionary: String = ids.iter().map(|id| format!("\"{id}\"\n")).collect();
    std::fs::write(dir.join("ids.dict"), dictionary).unwrap();

    let started = Instant::now();
    let run = tokio::process::Command::new(&python)
        .arg(root.join("tests/schemathesis/run.py"))
        .arg(&app.base)
        .arg(&dir)
        .env("SCHEMATHESIS_WFC_AUTH", &wfc)
        .env("KISUM_INTERNAL_KEY", INTERNAL_KEY)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BUDGET, run)
        .await
        .expect("schemathesis ends within its time budget")
        .expect("the venv's python starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let figures: String = stdout
        .lines()
        .skip_while(|l| !l.starts_with("schemathesis "))
        .collect::<Vec<_>>()
        .join("\n");
    // Shown with --nocapture: the figures of the run.
    println!(
        "{figures}\n({:.0} s in all)",
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "schemathesis found failures ({}); reports in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        dir.display()
    );
}

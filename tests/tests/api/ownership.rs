//! SPEC 5.2: company claims and agency provisioning, including the
//! uniqueness rules under concurrent requests.

use kisum_tests::{Org, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn import(app: &TestApp, kind: &str, name: &str) -> String {
    let response = app
        .internal(Method::POST, "/internal/artists-companies")
        .json(&json!({"kind": kind, "name": name, "country": "NL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn admin(app: &TestApp, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.internal(Method::POST, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_company_claim_is_approved_once_and_closes_the_others() {
    let app = TestApp::spawn().await;
    let (a, b) = (Org::new(), Org::new());
    let venue = import(&app, "venue", "Imported Hall").await;

    let (status, claim_a) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/company-claims",
            Some(json!({"company_id": venue, "message": "We run it"})),
        )
        .await;
    assert_eq!((status, claim_a["status"].as_str()), (201, Some("pending")));
    let (status, body) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/company-claims",
            Some(json!({"company_id": venue})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("claim_already_pending"))
    );
    let (_, claim_b) = b
        .send(
            &app,
            Method::POST,
            "/api/v1/company-claims",
            Some(json!({"company_id": venue})),
        )
        .await;

    let (status, approved) = admin(
        &app,
        &format!(
            "/internal/company-claims/{}/approve",
            claim_a["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        (status, approved["status"].as_str()),
        (200, Some("approved"))
    );
    let mine = a.get(&app, "/api/v1/me/companies").await.1;
    assert_eq!(mine[0]["id"], venue.as_str());
    assert_eq!(mine[0]["claimed"], true);

    // The competing claim was closed, with a reason, and audited.
    let b_claims = b.get(&app, "/api/v1/company-claims").await.1;
    assert_eq!(b_claims["items"][0]["status"], "rejected");
    assert!(
        b_claims["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("claimed")
    );
    let (status, body) = admin(
        &app,
        &format!(
            "/internal/company-claims/{}/approve",
            claim_b["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (status, body) = b
        .send(
            &app,
            Method::POST,
            "/api/v1/company-claims",
            Some(json!({"company_id": venue})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("company_already_claimed"))
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM ownership_audit WHERE entity_type = 'company_claim'"
        )
        .await,
        4
    );

    // Now only A edits it.
    let path = format!("/api/v1/artists-companies/{venue}");
    assert_eq!(
        a.send(
            &app,
            Method::PATCH,
            &path,
            Some(json!({"name": "Our Hall"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        b.send(
            &app,
            Method::PATCH,
            &path,
            Some(json!({"name": "Their Hall"}))
        )
        .await
        .0,
        403
    );

    // Agencies are not claimed this way; rejections need a reason.
    let agency = import(&app, "agency", "Sleepy Agency").await;
    let (status, body) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/company-claims",
            Some(json!({"company_id": agency})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("agency_requires_provisioning"))
    );
    let other = import(&app, "label", "Some Label").await;
    let (_, claim) = b
        .send(
            &app,
            Method::POST,
            "/api/v1/company-claims",
            Some(json!({"company_id": other})),
        )
        .await;
    let reject = format!(
        "/internal/company-claims/{}/reject",
        claim["id"].as_str().unwrap()
    );
    assert_eq!(admin(&app, &reject, Some(json!({}))).await.0, 422);
    let (status, rejected) = admin(
        &app,
        &reject,
        Some(json!({"reason": "no proof of ownership"})),
    )
    .await;
    assert_eq!(
        (status, rejected["status"].as_str()),
        (200, Some("rejected"))
    );
    let (status, _) = b
        .send(
            &app,
            Method::POST,
            "/api/v1/company-claims",
            Some(json!({"company_id": other})),
        )
        .await;
    assert_eq!(status, 201, "a rejected claim frees the org to ask again");

    // User tokens never decide.
    let response = a
        .req(&app, Method::POST, &reject)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn two_orgs_racing_for_one_company_have_one_winner() {
    let app = TestApp::spawn().await;
    let venue = import(&app, "venue", "Raced Venue").await;
    let mut claims = Vec::new();
    for org in [Org::new(), Org::new()] {
        let (status, claim) = org
            .send(
                &app,
                Method::POST,
                "/api/v1/company-claims",
                Some(json!({"company_id": venue})),
            )
            .await;
        assert_eq!(status, 201);
        claims.push(claim["id"].as_str().unwrap().to_owned());
    }
    let approvals = claims.iter().map(|id| {
        app.internal(
            Method::POST,
            &format!("/internal/company-claims/{id}/approve"),
        )
        .send()
    });
    let mut statuses: Vec<u16> = futures::future::join_all(approvals)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(
        count(&app, &format!("SELECT count(*) FROM artists_company_claims WHERE company_id = '{venue}' AND status = 'approved'")).await,
        1
    );
}

#[tokio::test]
async fn an_org_takes_over_a_sleeping_agency() {
    let app = TestApp::spawn().await;
    let (a, b) = (Org::new(), Org::new());
    let agency = import(&app, "agency", "Dormant Booking").await;

    let none = a.get(&app, "/api/v1/me/agency").await.1;
    assert_eq!(none["state"], "none");
    let sleeping = a
        .get(&app, "/api/v1/artists-companies/sleeping?q=dormant")
        .await
        .1;
    assert_eq!(sleeping["items"][0]["id"], agency.as_str());

    let (status, request) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies/takeover-requests",
            Some(json!({"company_id": agency, "message": "We are Dormant Booking"})),
        )
        .await;
    assert_eq!(
        (status, request["status"].as_str(), request["kind"].as_str()),
        (201, Some("pending"), Some("takeover"))
    );
    let pending = a.get(&app, "/api/v1/me/agency").await.1;
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["request"]["id"], request["id"]);
    let (status, body) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies/creation-requests",
            Some(json!({"spec": {"name": "Plan B"}})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("request_already_pending"))
    );
    let (status, competing) = b
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies/takeover-requests",
            Some(json!({"company_id": agency})),
        )
        .await;
    assert_eq!(status, 201);

    // Operators see both; each org sees only its own.
    let listed: Value = app
        .internal(
            Method::GET,
            "/internal/admin/artist-company-requests?status=pending",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let mine = b.get(&app, "/api/v1/artists-companies/requests").await.1;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["id"], competing["id"]);

    let id = request["id"].as_str().unwrap();
    let (status, approved) = admin(
        &app,
        &format!("/internal/admin/artist-company-requests/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        (status, approved["status"].as_str()),
        (200, Some("approved"))
    );
    assert_eq!(approved["company_id"], agency.as_str());
    let owned = a.get(&app, "/api/v1/me/agency").await.1;
    assert_eq!(owned["state"], "agency");
    assert_eq!(owned["company"]["id"], agency.as_str());
    assert_eq!(owned["company"]["claimed"], true);

    // The competing takeover was cancelled; B may ask for something else.
    let (_, detail) = {
        let response = app
            .internal(
                Method::GET,
                &format!(
                    "/internal/admin/artist-company-requests/{}",
                    competing["id"].as_str().unwrap()
                ),
            )
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!(detail["status"], "cancelled");
    assert_eq!(b.get(&app, "/api/v1/me/agency").await.1["state"], "none");
    let sleeping = b
        .get(&app, "/api/v1/artists-companies/sleeping?q=dormant")
        .await
        .1;
    assert_eq!(sleeping["items"], json!([]));

    // An org owns at most one agency.
    let another = import(&app, "agency", "Second Agency").await;
    let (status, body) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies/takeover-requests",
            Some(json!({"company_id": another})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("org_already_has_agency"))
    );
    // And the owner org can now create artists through it.
    let (status, _) = a
        .send(
            &app,
            Method::POST,
            "/api/v1/artists",
            Some(json!({"name": "Signed Act"})),
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        count(
            &app,
            "SELECT count(*) FROM ownership_audit WHERE entity_type = 'provisioning_request'"
        )
        .await
            >= 4
    );
}

#[tokio::test]
async fn creation_requests_are_validated_approved_or_rejected() {
    let app = TestApp::spawn().await;
    let org = Org::new();
    let (status, body) = org
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies/creation-requests",
            Some(json!({"spec": {"name": "", "website": "nope"}})),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["spec.name", "spec.website"]);
    assert_eq!(
        count(&app, "SELECT count(*) FROM artists_provisioning_requests").await,
        0
    );

    let spec = json!({"spec": {"name": "Fresh Agency", "country": "SE", "website": "https://fresh.example"}});
    let (status, request) = org
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies/creation-requests",
            Some(spec.clone()),
        )
        .await;
    assert_eq!(status, 201);
    let id = request["id"].as_str().unwrap();
    let (status, rejected) = admin(
        &app,
        &format!("/internal/admin/artist-company-requests/{id}/reject"),
        Some(json!({"reason": "duplicate of an existing agency"})),
    )
    .await;
    assert_eq!(
        (status, rejected["status"].as_str()),
        (200, Some("rejected"))
    );
    assert_eq!(count(&app, "SELECT count(*) FROM companies").await, 0);

    // Rejected: the org may ask again, and this time it is approved.
    let (status, request) = org
        .send(
            &app,
            Method::POST,
            "/api/v1/artists-companies/creation-requests",
            Some(spec),
        )
        .await;
    assert_eq!(status, 201);
    let id = request["id"].as_str().unwrap();
    let (status, approved) = admin(
        &app,
        &format!("/internal/admin/artist-company-requests/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    let company = org.get(&app, "/api/v1/me/agency").await.1["company"].clone();
    assert_eq!(
        (
            company["name"].as_str(),
            company["kind"].as_str(),
            company["claimed"].as_bool()
        ),
        (Some("Fresh Agency"), Some("agency"), Some(true))
    );
    assert_eq!(approved["company_id"], company["id"]);
    let (status, body) = admin(
        &app,
        &format!("/internal/admin/artist-company-requests/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let missing = format!("/internal/admin/artist-company-requests/{}", Uuid::now_v7());
    assert_eq!(
        app.internal(Method::GET, &missing)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn one_org_sending_two_requests_at_once_gets_one() {
    let app = TestApp::spawn().await;
    let org = Org::new();
    let agency = import(&app, "agency", "Twice Asked").await;
    let takeover = org
        .req(
            &app,
            Method::POST,
            "/api/v1/artists-companies/takeover-requests",
        )
        .json(&json!({"company_id": agency}))
        .send();
    let creation = org
        .req(
            &app,
            Method::POST,
            "/api/v1/artists-companies/creation-requests",
        )
        .json(&json!({"spec": {"name": "Or This One"}}))
        .send();
    let (a, b) = tokio::join!(takeover, creation);
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM artists_provisioning_requests WHERE status = 'pending'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn racing_takeover_approvals_leave_one_owner_and_change_nothing_else() {
    let app = TestApp::spawn().await;
    let agency = import(&app, "agency", "Contested Agency").await;
    let mut ids = Vec::new();
    for org in [Org::new(), Org::new()] {
        let (status, request) = org
            .send(
                &app,
                Method::POST,
                "/api/v1/artists-companies/takeover-requests",
                Some(json!({"company_id": agency})),
            )
            .await;
        assert_eq!(status, 201);
        ids.push(request["id"].as_str().unwrap().to_owned());
    }
    let approvals = ids.iter().map(|id| {
        app.internal(
            Method::POST,
            &format!("/internal/admin/artist-company-requests/{id}/approve"),
        )
        .send()
    });
    let responses = futures::future::join_all(approvals).await;
    let mut statuses = Vec::new();
    for response in responses {
        let response = response.unwrap();
        let status = response.status().as_u16();
        if status == 409 {
            let body: Value = response.json().await.unwrap();
            assert!(
                matches!(
                    body["code"].as_str(),
                    Some("company_already_claimed" | "invalid_transition")
                ),
                "{body}"
            );
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM artists_company_claims WHERE company_id = '{agency}'")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM artists_provisioning_requests WHERE status = 'approved'"
        )
        .await,
        1
    );
}

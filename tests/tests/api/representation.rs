//! SPEC 5.2: roster links, team, representation claims and disputes.

use kisum_tests::{Org, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

/// Provisions an agency for `org` (creation request, approved).
async fn agency(app: &TestApp, org: &Org, name: &str) -> String {
    let (status, request) = org
        .send(
            app,
            Method::POST,
            "/api/v1/artists-companies/creation-requests",
            Some(json!({"spec": {"name": name}})),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let (status, approved) = internal(
        app,
        &format!(
            "/internal/admin/artist-company-requests/{}/approve",
            request["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    approved["company_id"].as_str().unwrap().to_owned()
}

async fn internal(app: &TestApp, path: &str, body: Option<Value>) -> (u16, Value) {
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

async fn artist(app: &TestApp, name: &str) -> String {
    let response = app
        .internal(Method::POST, "/internal/artists")
        .json(&json!({"name": name, "country": "NL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn roster_links_refuse_overlapping_territories() {
    let app = TestApp::spawn().await;
    let (a, b) = (Org::new(), Org::new());
    let agency_a = agency(&app, &a, "Alpha Agency").await;
    let agency_b = agency(&app, &b, "Beta Agency").await;
    let artist = artist(&app, "Shared Talent").await;

    let (status, link) = a
        .send(&app, Method::POST, &format!("/api/v1/artists-companies/{agency_a}/roster"),
            Some(json!({"artist_id": artist, "role": "booking", "territory": {"countries": ["nl", "BE"]}})))
        .await;
    assert_eq!(status, 201, "{link}");
    assert_eq!(link["territory"]["areas"], json!(["BE", "NL"]));

    let (_, benelux) = a
        .send(&app, Method::GET, "/api/v1/geo/markets/benelux", None)
        .await;
    let (status, body) = b
        .send(&app, Method::POST, &format!("/api/v1/artists-companies/{agency_b}/roster"),
            Some(json!({"artist_id": artist, "role": "booking", "territory": {"market_ids": [benelux["id"]]}})))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("representation_conflict"))
    );
    let (status, _) = b
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists-companies/{agency_b}/roster"),
            Some(
                json!({"artist_id": artist, "role": "booking", "territory": {"countries": ["DE"]}}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    // Another org cannot write to A's roster.
    let (status, _) = b
        .send(&app, Method::POST, &format!("/api/v1/artists-companies/{agency_a}/roster"),
            Some(json!({"artist_id": artist, "role": "management", "territory": {"worldwide": true}})))
        .await;
    assert_eq!(status, 403);
    let (status, body) = a
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists-companies/{agency_a}/roster"),
            Some(
                json!({"artist_id": artist, "role": "booking", "territory": {"countries": ["XX"]}}),
            ),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("territory.countries[0]"))
    );

    let (_, representation) = b
        .send(
            &app,
            Method::GET,
            &format!("/api/v1/artists/{artist}/representation"),
            None,
        )
        .await;
    let companies: Vec<&str> = representation
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["company_name"].as_str().unwrap())
        .collect();
    assert_eq!(companies.len(), 2, "{representation}");
    assert!(companies.contains(&"Alpha Agency") && companies.contains(&"Beta Agency"));

    // Representing the artist lets the org edit it.
    let (status, _) = a
        .send(
            &app,
            Method::PATCH,
            &format!("/api/v1/artists/{artist}"),
            Some(json!({"name": "Shared Talent Live"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = Org::new()
        .send(
            &app,
            Method::PATCH,
            &format!("/api/v1/artists/{artist}"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 403);

    assert_eq!(
        a.send(
            &app,
            Method::DELETE,
            &format!("/api/v1/artists-companies/{agency_a}/roster/{artist}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        a.send(
            &app,
            Method::DELETE,
            &format!("/api/v1/artists-companies/{agency_a}/roster/{artist}"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn an_overlapping_claim_is_disputed_never_silently_approved() {
    let app = TestApp::spawn().await;
    let (holder, claimant, stranger) = (Org::new(), Org::new(), Org::new());
    let holder_agency = agency(&app, &holder, "Holder Agency").await;
    let claimant_agency = agency(&app, &claimant, "Claimant Agency").await;
    agency(&app, &stranger, "Stranger Agency").await;
    let artist = artist(&app, "Contested Act").await;
    holder
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists-companies/{holder_agency}/roster"),
            Some(json!({"artist_id": artist, "role": "booking", "territory": {"worldwide": true}})),
        )
        .await;

    let (status, claim) = claimant
        .send(&app, Method::POST, "/api/v1/representation-claims",
            Some(json!({"artist_id": artist, "company_id": claimant_agency, "role": "booking", "territory": {"countries": ["FR"]}})))
        .await;
    assert_eq!(
        (status, claim["status"].as_str()),
        (201, Some("disputed")),
        "{claim}"
    );
    let claim_id = claim["id"].as_str().unwrap();
    let (status, body) = internal(
        &app,
        &format!("/internal/representation-claims/{claim_id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("claim_disputed"))
    );

    let (_, disputes) = holder
        .send(&app, Method::GET, "/api/v1/representation-disputes", None)
        .await;
    let dispute = disputes["items"][0].clone();
    assert_eq!(dispute["claim_id"], claim_id);
    assert_eq!(dispute["status"], "open");
    let (_, theirs) = claimant
        .send(&app, Method::GET, "/api/v1/representation-disputes", None)
        .await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    let (_, none) = stranger
        .send(&app, Method::GET, "/api/v1/representation-disputes", None)
        .await;
    assert_eq!(none["items"], json!([]));

    let resolve = format!(
        "/internal/representation-disputes/{}/resolve",
        dispute["id"].as_str().unwrap()
    );
    let (status, resolved) = internal(
        &app,
        &resolve,
        Some(json!({"resolution": "claim_upheld", "note": "split territory agreed"})),
    )
    .await;
    assert_eq!(
        (status, resolved["resolution"].as_str()),
        (200, Some("claim_upheld"))
    );
    let (_, claims) = claimant
        .send(&app, Method::GET, "/api/v1/representation-claims", None)
        .await;
    assert_eq!(claims["items"][0]["status"], "approved");
    let (_, representation) = claimant
        .send(
            &app,
            Method::GET,
            &format!("/api/v1/artists/{artist}/representation"),
            None,
        )
        .await;
    assert_eq!(
        representation.as_array().unwrap().len(),
        2,
        "approval wrote the roster link"
    );
    let (status, _) = internal(
        &app,
        &resolve,
        Some(json!({"resolution": "claim_rejected"})),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn pending_claims_are_approved_disputed_withdrawn_or_rejected() {
    let app = TestApp::spawn().await;
    let (holder, claimant, stranger) = (Org::new(), Org::new(), Org::new());
    let holder_agency = agency(&app, &holder, "Home Agency").await;
    let claimant_agency = agency(&app, &claimant, "Away Agency").await;
    let artist = artist(&app, "Touring Act").await;
    holder
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists-companies/{holder_agency}/roster"),
            Some(
                json!({"artist_id": artist, "role": "booking", "territory": {"countries": ["NL"]}}),
            ),
        )
        .await;

    // Elsewhere: pending, then approved with its roster link.
    let claim = |countries: Value| json!({"artist_id": artist, "company_id": claimant_agency, "role": "booking", "territory": {"countries": countries}});
    let (status, us) = claimant
        .send(
            &app,
            Method::POST,
            "/api/v1/representation-claims",
            Some(claim(json!(["US"]))),
        )
        .await;
    assert_eq!((status, us["status"].as_str()), (201, Some("pending")));
    let (status, _) = claimant
        .send(
            &app,
            Method::POST,
            "/api/v1/representation-claims",
            Some(claim(json!(["CA"]))),
        )
        .await;
    assert_eq!(status, 409, "one open claim per artist, company and role");
    let approve = format!(
        "/internal/representation-claims/{}/approve",
        us["id"].as_str().unwrap()
    );
    let (status, approved) = internal(&app, &approve, None).await;
    assert_eq!(
        (status, approved["status"].as_str()),
        (200, Some("approved"))
    );
    assert_eq!(internal(&app, &approve, None).await.0, 409);

    // The holder disputes a pending claim; a stranger has no standing (404).
    let (_, mgmt_claim) = claimant
        .send(&app, Method::POST, "/api/v1/representation-claims",
            Some(json!({"artist_id": artist, "company_id": claimant_agency, "role": "management", "territory": {"worldwide": true}})))
        .await;
    assert_eq!(mgmt_claim["status"], "pending");
    let disputes = format!(
        "/api/v1/representation-claims/{}/disputes",
        mgmt_claim["id"].as_str().unwrap()
    );
    let (status, _) = stranger
        .send(
            &app,
            Method::POST,
            &disputes,
            Some(json!({"reason": "I object"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = claimant
        .send(
            &app,
            Method::POST,
            &disputes,
            Some(json!({"reason": "self"})),
        )
        .await;
    assert_eq!(status, 403);
    // The holder has an approved booking link, but for another role: it
    // disputes through its place on the artist's team.
    let (_, person) = holder
        .send(
            &app,
            Method::POST,
            "/api/v1/people",
            Some(json!({"company_id": holder_agency, "name": "Rita Agent"})),
        )
        .await;
    let (status, assignment) = holder
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists/{artist}/team"),
            Some(json!({"person_id": person["id"], "role": "responsible_agent"})),
        )
        .await;
    assert_eq!(status, 201, "{assignment}");
    let (status, dispute) = holder
        .send(
            &app,
            Method::POST,
            &disputes,
            Some(json!({"reason": "we manage this act"})),
        )
        .await;
    assert_eq!(
        (status, dispute["status"].as_str()),
        (201, Some("open")),
        "{dispute}"
    );
    let (status, body) = holder
        .send(
            &app,
            Method::POST,
            &disputes,
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("dispute_already_open"))
    );

    // The claimant withdraws; the dispute closes with it.
    let (status, withdrawn) = claimant
        .send(
            &app,
            Method::POST,
            &format!(
                "/api/v1/representation-claims/{}/withdraw",
                mgmt_claim["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, withdrawn["status"].as_str()),
        (200, Some("withdrawn"))
    );
    let (_, listed) = holder
        .send(&app, Method::GET, "/api/v1/representation-disputes", None)
        .await;
    assert_eq!(listed["items"][0]["status"], "resolved");

    // Rejection needs a reason.
    let (_, ca) = claimant
        .send(
            &app,
            Method::POST,
            "/api/v1/representation-claims",
            Some(claim(json!(["CA"]))),
        )
        .await;
    let reject = format!(
        "/internal/representation-claims/{}/reject",
        ca["id"].as_str().unwrap()
    );
    assert_eq!(internal(&app, &reject, Some(json!({}))).await.0, 422);
    let (status, rejected) = internal(&app, &reject, Some(json!({"reason": "not signed"}))).await;
    assert_eq!(
        (status, rejected["status"].as_str()),
        (200, Some("rejected"))
    );
}

#[tokio::test]
async fn team_assignments_take_people_of_the_representing_company() {
    let app = TestApp::spawn().await;
    let (agency_org, other) = (Org::new(), Org::new());
    let agency = agency(&app, &agency_org, "Team Agency").await;
    let other_company = {
        let (_, company) = other
            .send(
                &app,
                Method::POST,
                "/api/v1/artists-companies",
                Some(json!({"kind": "promoter", "name": "Other Promoter"})),
            )
            .await;
        company["id"].as_str().unwrap().to_owned()
    };
    let artist = artist(&app, "Team Act").await;
    agency_org
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/artists-companies/{agency}/roster"),
            Some(json!({"artist_id": artist, "role": "booking", "territory": {"worldwide": true}})),
        )
        .await;
    let (_, person) = agency_org
        .send(
            &app,
            Method::POST,
            "/api/v1/people",
            Some(json!({"company_id": agency, "name": "Tom Tour"})),
        )
        .await;
    let (_, outsider) = other
        .send(
            &app,
            Method::POST,
            "/api/v1/people",
            Some(json!({"company_id": other_company, "name": "Olga Other"})),
        )
        .await;
    let team = format!("/api/v1/artists/{artist}/team");

    let (status, assignment) = agency_org
        .send(
            &app,
            Method::POST,
            &team,
            Some(json!({"person_id": person["id"], "role": "tour_manager"})),
        )
        .await;
    assert_eq!(
        (status, assignment["person_name"].as_str()),
        (201, Some("Tom Tour"))
    );
    let (status, body) = agency_org
        .send(
            &app,
            Method::POST,
            &team,
            Some(json!({"person_id": person["id"], "role": "tour_manager"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_assigned"))
    );
    let (status, body) = agency_org
        .send(
            &app,
            Method::POST,
            &team,
            Some(json!({"person_id": outsider["id"], "role": "assistant"})),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("person_id"))
    );
    let (status, _) = other
        .send(
            &app,
            Method::POST,
            &team,
            Some(json!({"person_id": outsider["id"], "role": "assistant"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = agency_org
        .send(
            &app,
            Method::POST,
            &team,
            Some(json!({"person_id": person["id"], "role": "roadie"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_body")));

    let (_, listed) = agency_org.send(&app, Method::GET, &team, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The assigned contact is private to the agency: others do not see it.
    let (_, listed) = other.send(&app, Method::GET, &team, None).await;
    assert_eq!(listed, json!([]));
    let remove = format!("{team}/{}", assignment["id"].as_str().unwrap());
    assert_eq!(other.send(&app, Method::DELETE, &remove, None).await.0, 403);
    assert_eq!(
        agency_org.send(&app, Method::DELETE, &remove, None).await.0,
        204
    );
    assert_eq!(
        agency_org.send(&app, Method::DELETE, &remove, None).await.0,
        404
    );
}

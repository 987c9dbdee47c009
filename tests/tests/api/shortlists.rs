//! Shortlists: tenant-scoped CRUD with versions, ETags and pagination.

use kisum_tests::{TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn create(app: &TestApp, org: Uuid, name: &str) -> Value {
    let response = app
        .as_member(Method::POST, "/api/v1/shortlists", org, "member")
        .json(&json!({"name": name, "description": "for the autumn run"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn crud_with_versions_and_tenant_isolation() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let created = create(&app, org, "Autumn headliners").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["version"], 1);
    assert_eq!(created["org_id"], org.to_string());

    let path = format!("/api/v1/shortlists/{id}");
    let response = app
        .as_member(Method::GET, &path, org, "viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");

    // Same name in the same org (case-insensitively) is a conflict.
    let response = app
        .as_member(Method::POST, "/api/v1/shortlists", org, "member")
        .json(&json!({"name": "autumn HEADLINERS"}))
        .send()
        .await
        .unwrap();
    problem(response, 409, "shortlist_name_taken").await;

    let response = app
        .as_member(Method::PATCH, &path, org, "member")
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Autumn main stage", "description": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "Autumn main stage");
    assert_eq!(updated["description"], Value::Null);

    let stale = app
        .as_member(Method::PATCH, &path, org, "member")
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Lost update"}))
        .send()
        .await
        .unwrap();
    problem(stale, 412, "stale_version").await;

    // `If-Match: *` matches whatever version is current.
    let response = app
        .as_member(Method::PATCH, &path, org, "member")
        .header("if-match", "*")
        .json(&json!({"description": "any version"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"3\"");

    // Another org cannot see, change or delete it: 404, not 403.
    let other = Uuid::now_v7();
    for method in [Method::GET, Method::DELETE] {
        let response = app
            .as_member(method, &path, other, "owner")
            .send()
            .await
            .unwrap();
        problem(response, 404, "not_found").await;
    }
    let response = app
        .as_member(Method::PATCH, &path, other, "owner")
        .json(&json!({"name": "hijack"}))
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;

    let response = app
        .as_member(Method::DELETE, &path, org, "member")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = app
        .as_member(Method::GET, &path, org, "member")
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
}

#[tokio::test]
async fn pages_are_stable_while_rows_are_added() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    for i in 0..7 {
        create(&app, org, &format!("List {i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/shortlists?limit=3".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app
            .as_member(Method::GET, &path, org, "viewer")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_owned());
        }
        // A row added mid-way is newer than every cursor: it never shows up
        // in later pages, and nothing is repeated or skipped.
        if pages == 1 {
            create(&app, org, "Added meanwhile").await;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).rev().map(|i| format!("List {i}")).collect();
    assert_eq!(seen, expected);

    // Limits above the maximum are clamped, not refused.
    let response = app
        .as_member(Method::GET, "/api/v1/shortlists?limit=5000", org, "viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 8);
    assert_eq!(page["next_cursor"], Value::Null);
    let response = app
        .as_member(Method::GET, "/api/v1/shortlists?limit=0", org, "viewer")
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
}

#[tokio::test]
async fn two_racing_updates_of_one_version_have_one_winner() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let created = create(&app, org, "Raced list").await;
    let path = format!("/api/v1/shortlists/{}", created["id"].as_str().unwrap());
    let update = |name: &'static str| {
        app.as_member(Method::PATCH, &path, org, "member")
            .header("if-match", "\"1\"")
            .json(&json!({ "name": name }))
            .send()
    };
    let (a, b) = tokio::join!(update("Left"), update("Right"));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
    let version: i32 = sqlx::query_scalar("SELECT version FROM shortlists")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(version, 2);
}

//! The OpenAPI document is generated, served, documented offline, and
//! committed as a snapshot so API changes show in review.

use kisum_tests::TestApp;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/openapi.json");

#[tokio::test]
async fn openapi_matches_the_committed_snapshot() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let served: serde_json::Value = response.json().await.unwrap();
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemes = &served["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["org"]["name"], "x-org");
    assert_eq!(schemes["internal_key"]["name"], "X-Internal-API-Key");
    for path in [
        "/api/v1/me",
        "/api/v1/shortlists",
        "/healthz",
        "/readyz",
        "/internal/ops/canaries",
    ] {
        assert!(served["paths"].get(path).is_some(), "{path} documented");
    }

    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(SNAPSHOT, &pretty).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        committed == pretty,
        "api/openapi.json is out of date: run `UPDATE_SNAPSHOTS=1 cargo test -p kisum-tests openapi` and commit it"
    );
}

#[tokio::test]
async fn docs_page_is_served_with_local_assets() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/docs/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no assets from a CDN");
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let response = app
            .get(&format!("/api/v1/docs/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let init = app
        .get("/api/v1/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
}

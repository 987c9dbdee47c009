//! SPEC section 3 CORS rules.

use kisum_tests::TestApp;

async fn get_with_origin(app: &TestApp, origin: &str) -> reqwest::Response {
    app.get("/healthz")
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .reduce(|a, b| format!("{a}, {b}"))
}

#[tokio::test]
async fn cors_origin_allowlist_echoes_with_credentials() {
    let app = TestApp::builder()
        .env(
            "CORS_ORIGIN",
            "https://app.kisum.test,https://admin.kisum.test",
        )
        .spawn()
        .await;
    for origin in ["https://app.kisum.test", "https://admin.kisum.test"] {
        let response = get_with_origin(&app, origin).await;
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert_eq!(
            header(&response, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        assert!(
            header(&response, "vary")
                .unwrap()
                .to_lowercase()
                .contains("origin")
        );
    }
    let response = get_with_origin(&app, "https://evil.test").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn legacy_list_applies_when_cors_origin_is_unset() {
    let app = TestApp::builder()
        .env("CORS_ALLOWED_ORIGINS", "https://legacy.kisum.test")
        .spawn()
        .await;
    let response = get_with_origin(&app, "https://legacy.kisum.test").await;
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("https://legacy.kisum.test")
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let response = get_with_origin(&app, "https://other.test").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn legacy_wildcard_alone_allows_any_origin_without_credentials() {
    let app = TestApp::builder()
        .env("CORS_ALLOWED_ORIGINS", "*")
        .spawn()
        .await;
    let response = get_with_origin(&app, "https://anywhere.test").await;
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn legacy_wildcard_is_ignored_when_cors_origin_is_set() {
    let app = TestApp::builder()
        .env("CORS_ORIGIN", "https://app.kisum.test")
        .env("CORS_ALLOWED_ORIGINS", "*")
        .spawn()
        .await;
    let response = get_with_origin(&app, "https://anywhere.test").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let response = get_with_origin(&app, "https://app.kisum.test").await;
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("https://app.kisum.test")
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn no_cors_configuration_means_no_cross_origin_access() {
    let app = TestApp::spawn().await;
    let response = get_with_origin(&app, "https://app.kisum.test").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn preflight_allows_the_platform_headers() {
    let app = TestApp::builder()
        .env("CORS_ORIGIN", "https://app.kisum.test")
        .spawn()
        .await;
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/shortlists"))
        .header("origin", "https://app.kisum.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-org, idempotency-key, if-match",
        )
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "preflight status {}",
        response.status()
    );
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("https://app.kisum.test")
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let allowed = header(&response, "access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-org",
        "idempotency-key",
        "if-match",
    ] {
        assert!(allowed.contains(h), "{h} in {allowed}");
    }
    let methods = header(&response, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );

    // A preflight from an unknown origin gets no allowance.
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/shortlists"))
        .header("origin", "https://evil.test")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

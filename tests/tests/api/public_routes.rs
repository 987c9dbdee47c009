//! SPEC 5.12: the unauthenticated routes are limited per client address,
//! across replicas; `X-Forwarded-For` is believed only through
//! `TRUSTED_PROXIES`; and every HTML page carries the security headers.

use std::net::IpAddr;
use std::time::Instant;

use kisum_tests::processes::ApiProcess;
use kisum_tests::{TestApp, assert_secure_page, problem};

const PUBLIC: &str = "/api/v1/contract-signing-keys";

/// Sends `send()` until the first 429 (checked as `client_rate_limited`
/// with `Retry-After`), at most `cap` times: how many passed before it.
async fn passed_before_429<F>(cap: usize, mut send: impl FnMut() -> F) -> usize
where
    F: Future<Output = reqwest::Result<reqwest::Response>>,
{
    for passed in 0..cap {
        let response = send().await.unwrap();
        match response.status().as_u16() {
            200 => {}
            429 => {
                let retry: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&retry), "Retry-After {retry}");
                problem(response, 429, "client_rate_limited").await;
                return passed;
            }
            s => panic!("answered {s}: {}", response.text().await.unwrap()),
        }
    }
    panic!("no 429 within {cap} requests");
}

/// The quota, plus the requests that refilled since `started` (one every
/// `60 s / per_minute`).
fn quota(per_minute: u64, started: Instant) -> std::ops::RangeInclusive<usize> {
    let refilled = started.elapsed().as_secs() * per_minute / 60;
    let per_minute = usize::try_from(per_minute).unwrap();
    per_minute..=per_minute + usize::try_from(refilled).unwrap()
}

/// A client that connects from another loopback address.
fn client_from(addr: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(addr))
        .build()
        .unwrap()
}

#[tokio::test]
async fn one_client_address_is_limited_and_another_is_not() {
    let app = TestApp::builder()
        .env("PUBLIC_RATE_LIMIT_PER_MINUTE", "5")
        .spawn()
        .await;
    let started = Instant::now();
    let passed = passed_before_429(40, || app.get(PUBLIC).send()).await;
    assert!(quota(5, started).contains(&passed), "{passed} passed");
    // The address's one bucket covers every unauthenticated route, the
    // documents and the ops pages included.
    for path in [
        "/api/v1/openapi.json",
        "/api/v1/docs/",
        "/ops",
        &format!("/api/v1/contract-verifications/{}", "0".repeat(64)),
        "/api/v1/tour-feeds/not-a-token/itinerary.ics",
    ] {
        let response = app.get(path).send().await.unwrap();
        problem(response, 429, "client_rate_limited").await;
    }
    // The probes are never limited.
    for path in ["/healthz", "/readyz"] {
        assert_eq!(app.get(path).send().await.unwrap().status(), 200, "{path}");
    }
    // Another address has its own bucket.
    let other = client_from([127, 0, 0, 2]);
    let response = other.get(app.url(PUBLIC)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn two_replicas_share_one_count_per_address() {
    let app = TestApp::spawn().await;
    let limit = [("PUBLIC_RATE_LIMIT_PER_MINUTE", "10")];
    let a = ApiProcess::spawn(&app.db.url, &limit).await;
    let b = ApiProcess::spawn(&app.db.url, &limit).await;
    let started = Instant::now();
    let mut turn = 0usize;
    let passed = passed_before_429(60, || {
        turn += 1;
        let api = if turn.is_multiple_of(2) { &a } else { &b };
        api.http.get(api.url(PUBLIC)).send()
    })
    .await;
    let passed = passed_before_429(2, || b.http.get(b.url(PUBLIC)).send()).await + passed;
    assert!(
        quota(10, started).contains(&passed),
        "{passed} passed across two replicas"
    );
    let other = client_from([127, 0, 0, 3]);
    let response = other.get(a.url(PUBLIC)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

/// A request to the public route sent with `X-Forwarded-For: xff`.
fn via(
    app: &TestApp,
    xff: &str,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + use<> {
    app.get(PUBLIC).header("x-forwarded-for", xff).send()
}

#[tokio::test]
async fn without_trusted_proxies_a_spoofed_forwarded_for_is_ignored() {
    let app = TestApp::builder()
        .env("PUBLIC_RATE_LIMIT_PER_MINUTE", "3")
        .spawn()
        .await;
    let started = Instant::now();
    let mut n = 0;
    // A fresh made-up address each time buys nothing: the peer is counted.
    let passed = passed_before_429(20, || {
        n += 1;
        via(&app, &format!("198.51.100.{n}"))
    })
    .await;
    assert!(quota(3, started).contains(&passed), "{passed} passed");
}

#[tokio::test]
async fn through_a_trusted_proxy_the_forwarded_client_is_counted() {
    let app = TestApp::builder()
        .env("PUBLIC_RATE_LIMIT_PER_MINUTE", "3")
        .env("TRUSTED_PROXIES", "127.0.0.0/8")
        .spawn()
        .await;
    let started = Instant::now();
    let passed = passed_before_429(20, || via(&app, "198.51.100.1")).await;
    assert!(quota(3, started).contains(&passed), "{passed} passed");
    // Another client behind the same proxy has its own bucket.
    assert_eq!(via(&app, "198.51.100.2").await.unwrap().status(), 200);

    // An untrusted hop in the chain is the client: whatever it claims to
    // forward for (the leftmost entries) is not believed.
    let started = Instant::now();
    let mut n = 0;
    let passed = passed_before_429(20, || {
        n += 1;
        via(&app, &format!("198.51.100.{}, 203.0.113.9", 100 + n))
    })
    .await;
    assert!(quota(3, started).contains(&passed), "{passed} passed");
    problem(
        via(&app, "203.0.113.9").await.unwrap(),
        429,
        "client_rate_limited",
    )
    .await;
    // Only loopback is trusted here: 10.0.0.1 is the client, not 203.0.113.9.
    assert_eq!(
        via(&app, "203.0.113.9, 10.0.0.1").await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn html_pages_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    for (path, directives) in [
        (
            "/ops",
            &[
                "script-src 'self'",
                "form-action 'self'",
                "connect-src 'self'",
            ][..],
        ),
        (
            "/api/v1/docs/",
            &[
                "script-src 'self'",
                "style-src 'self'",
                "connect-src 'self'",
            ][..],
        ),
    ] {
        let response = app.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let csp = assert_secure_page(&headers, &response.text().await.unwrap());
        for directive in directives {
            assert!(csp.contains(directive), "{path}: {directive} in {csp}");
        }
    }
    // A wrong key answers the sign-in form again, with the same headers.
    let response = app
        .post("/ops/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("key=not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let headers = response.headers().clone();
    assert_secure_page(&headers, &response.text().await.unwrap());
    // Other answers are not pages, but are never sniffed either.
    let response = app.get("/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers().get("content-security-policy").is_none());
}

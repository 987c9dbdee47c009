//! SPEC section 3: tokens, tenancy, permissions and internal keys.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kisum_tests::fakes::{FakeAuth, FakeJwks};
use kisum_tests::tokens::{fixture, now};
use kisum_tests::{INTERNAL_KEY, INTERNAL_KEY_OLD, TestApp, Token, eventually, problem};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

async fn me(app: &TestApp, token: &str, org: Uuid) -> reqwest::Response {
    app.get("/api/v1/me")
        .bearer_auth(token)
        .header("x-org", org.to_string())
        .send()
        .await
        .unwrap()
}

async fn assert_401(response: reqwest::Response, code: &str) {
    let www = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    problem(response, 401, code).await;
    assert!(www.starts_with("Bearer"), "WWW-Authenticate: {www:?}");
}

#[tokio::test]
async fn a_member_sees_itself_with_role_permissions() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let token = Token::user("user-1")
        .claim("email", json!("a@b.test"))
        .org(org, "member");
    let response = me(&app, &token.hs256(), org).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user_id"], "user-1");
    assert_eq!(body["org_id"], org.to_string());
    assert_eq!(body["role"], "member");
    assert_eq!(body["email"], "a@b.test");
    let permissions: Vec<&str> = body["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(permissions.contains(&"artist.booking.write"));
    assert!(!permissions.contains(&"artist.contracts.sign"));
    assert!(!permissions.contains(&"artist.finance.read"));
}

#[tokio::test]
async fn missing_or_malformed_tokens_are_401() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let response = app
        .get("/api/v1/me")
        .header("x-org", org.to_string())
        .send()
        .await
        .unwrap();
    assert_401(response, "missing_token").await;

    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not.a.jwt",
        "bearer x.y.z",
    ] {
        let response = app
            .get("/api/v1/me")
            .header("authorization", header)
            .header("x-org", org.to_string())
            .send()
            .await
            .unwrap();
        assert_401(response, "invalid_token").await;
    }
}

#[tokio::test]
async fn forged_expired_and_incomplete_tokens_are_401() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let good = Token::member(org, "owner");
    assert_eq!(me(&app, &good.hs256(), org).await.status(), 200);

    let cases = [
        ("alg none", good.unsigned()),
        (
            "wrong secret",
            good.hs256_with("another-secret-0123456789abcdef0123"),
        ),
        ("RS256 on an HS256 deployment", good.rs256()),
        (
            "expired",
            good.clone().claim("exp", json!(now() - 120)).hs256(),
        ),
        (
            "not yet valid",
            good.clone().claim("nbf", json!(now() + 600)).hs256(),
        ),
        ("no exp", good.clone().without("exp").hs256()),
        ("no sub", good.clone().without("sub").hs256()),
        ("blank sub", good.clone().claim("sub", json!("")).hs256()),
        ("tampered payload", {
            let token = good.hs256();
            let parts: Vec<&str> = token.split('.').collect();
            let other = Token::member(org, "owner")
                .claim("sub", json!("admin"))
                .hs256();
            let other_payload = other.split('.').nth(1).unwrap().to_owned();
            format!("{}.{}.{}", parts[0], other_payload, parts[2])
        }),
    ];
    for (case, token) in cases {
        let response = me(&app, &token, org).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_401(response, "invalid_token").await;
    }
}

#[tokio::test]
async fn expiry_leeway_is_honoured_but_bounded() {
    let app = TestApp::builder()
        .env("JWT_LEEWAY_SECONDS", "30")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let just_expired = Token::member(org, "viewer").claim("exp", json!(now() - 10));
    assert_eq!(me(&app, &just_expired.hs256(), org).await.status(), 200);
    let long_expired = Token::member(org, "viewer").claim("exp", json!(now() - 45));
    assert_eq!(me(&app, &long_expired.hs256(), org).await.status(), 401);
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = TestApp::builder()
        .env("JWT_ISSUER", "https://auth.kisum.test")
        .env("JWT_AUDIENCE", "kisum-artist")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let good = Token::member(org, "member")
        .claim("iss", json!("https://auth.kisum.test"))
        .claim("aud", json!("kisum-artist"));
    assert_eq!(me(&app, &good.hs256(), org).await.status(), 200);
    let cases = [
        (
            "wrong audience",
            good.clone().claim("aud", json!("kisum-venues")).hs256(),
        ),
        ("no audience", good.clone().without("aud").hs256()),
        (
            "wrong issuer",
            good.clone()
                .claim("iss", json!("https://evil.test"))
                .hs256(),
        ),
        ("no issuer", good.clone().without("iss").hs256()),
    ];
    for (case, token) in cases {
        assert_eq!(me(&app, &token, org).await.status(), 401, "{case}");
    }
}

#[tokio::test]
async fn org_header_rules() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "owner").hs256();

    let response = app
        .get("/api/v1/me")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    problem(response, 400, "missing_org_header").await;

    let response = app
        .get("/api/v1/me")
        .bearer_auth(&token)
        .header("x-org", "acme")
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_org_header").await;

    let response = me(&app, &token, Uuid::now_v7()).await;
    problem(response, 403, "not_a_member").await;

    // Token problems come before org problems: an anonymous caller learns nothing.
    let response = app
        .get("/api/v1/me")
        .header("x-org", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn viewers_read_but_do_not_write() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let response = app
        .as_member(Method::GET, "/api/v1/shortlists", org, "viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .as_member(Method::POST, "/api/v1/shortlists", org, "viewer")
        .json(&json!({"name": "Festival picks"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 403, "permission_denied").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("artist.shortlists.write")
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM shortlists")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn explicit_permissions_replace_the_role_table() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let token = Token::user("u-perm")
        .org_with(org, "member", &["artist.shortlists.read"])
        .hs256();
    let list = app
        .get("/api/v1/shortlists")
        .bearer_auth(&token)
        .header("x-org", org.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let create = app
        .post("/api/v1/shortlists")
        .bearer_auth(&token)
        .header("x-org", org.to_string())
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    problem(create, 403, "permission_denied").await;
}

#[tokio::test]
async fn internal_routes_take_only_internal_keys() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let user = Token::member(org, "owner").hs256();

    let response = app
        .post("/internal/ops/canaries")
        .bearer_auth(&user)
        .header("x-org", org.to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(response, 401, "internal_key_required").await;

    let response = app
        .post("/internal/ops/canaries")
        .header("X-Internal-API-Key", "test-internal-key-0123456789abcdeX")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(response, 401, "invalid_internal_key").await;

    for (header, key) in [
        ("X-Internal-API-Key", INTERNAL_KEY),
        ("X-Internal-API-Key", INTERNAL_KEY_OLD),
        ("x-api-key", INTERNAL_KEY),
    ] {
        let response = app
            .post("/internal/ops/canaries")
            .header(header, key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{header}");
    }

    // A machine call may name a tenant, but it must be a UUID.
    let response = app
        .internal(Method::POST, "/internal/ops/canaries")
        .header("x-org", "not-a-uuid")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_org_header").await;

    // And an internal key never opens tenant routes.
    let response = app
        .internal(Method::GET, "/api/v1/me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn remote_access_mode_asks_auth_and_caches() {
    let (auth, url) = FakeAuth::start().await;
    let app = TestApp::builder()
        .env("AUTH_ACCESS_URL", url)
        .env("AUTH_API_KEY", "auth-side-key-0123456789")
        .env("AUTH_ACCESS_CACHE_SECONDS", "60")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    // The token carries no orgs claim: Auth is the source of truth.
    let token = Token::user("remote-user").hs256();

    auth.grant("remote-user", org, "viewer", None);
    let response = me(&app, &token, org).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["role"], "viewer");
    assert_eq!(me(&app, &token, org).await.status(), 200);
    assert_eq!(auth.hits(), 1, "the second call is served from the cache");
    assert_eq!(
        auth.seen_keys(),
        vec!["auth-side-key-0123456789".to_owned()]
    );

    let stranger = Uuid::now_v7();
    problem(me(&app, &token, stranger).await, 403, "not_a_member").await;

    auth.fail_with(Some(500));
    let other_org = Uuid::now_v7();
    problem(me(&app, &token, other_org).await, 503, "access_unavailable").await;
    // A cached answer still serves while Auth is down.
    assert_eq!(me(&app, &token, org).await.status(), 200);

    // Auth refusing our key is an outage, not "not a member".
    auth.fail_with(Some(403));
    problem(
        me(&app, &token, Uuid::now_v7()).await,
        503,
        "access_unavailable",
    )
    .await;
}

#[tokio::test]
async fn remote_access_unreachable_is_503() {
    let app = TestApp::builder()
        .env("AUTH_ACCESS_URL", "http://127.0.0.1:9/access")
        .env("AUTH_API_KEY", "auth-side-key-0123456789")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let response = me(&app, &Token::user("u").hs256(), org).await;
    problem(response, 503, "access_unavailable").await;
}

#[tokio::test]
async fn rs256_and_es256_public_keys_verify_their_own_family_only() {
    let rsa = TestApp::builder()
        .without("JWT_SECRET")
        .env("JWT_ALGORITHM", "RS256")
        .env("JWT_PUBLIC_KEY_PEM", fixture("rsa_public.pem"))
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "admin");
    assert_eq!(me(&rsa, &token.rs256(), org).await.status(), 200);
    assert_eq!(
        me(&rsa, &token.rs256_with("rsa_other_private.pem"), org)
            .await
            .status(),
        401
    );
    assert_eq!(me(&rsa, &token.es256(), org).await.status(), 401);
    // Key confusion: HS256 signed with the public key as the secret.
    let confused = token.sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(fixture("rsa_public.pem").as_bytes()),
    );
    assert_eq!(me(&rsa, &confused, org).await.status(), 401);
    assert_eq!(me(&rsa, &token.hs256(), org).await.status(), 401);
    assert_eq!(me(&rsa, &token.unsigned(), org).await.status(), 401);

    let ec = TestApp::builder()
        .without("JWT_SECRET")
        .env("JWT_ALGORITHM", "ES256")
        .env("JWT_PUBLIC_KEY_PEM", fixture("ec_public.pem"))
        .spawn()
        .await;
    assert_eq!(me(&ec, &token.es256(), org).await.status(), 200);
    assert_eq!(me(&ec, &token.rs256(), org).await.status(), 401);
}

#[tokio::test]
async fn jwks_keys_are_cached_by_kid_with_a_rate_limited_refetch() {
    let jwks: serde_json::Value = serde_json::from_str(&fixture("jwks.json")).unwrap();
    let (fake, url) = FakeJwks::start(jwks).await;
    let app = TestApp::builder()
        .without("JWT_SECRET")
        .env("JWT_ALGORITHM", "RS256")
        .env("JWT_JWKS_URL", url)
        .env("JWT_JWKS_REFETCH_SECONDS", "60")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "member").kid("test-rsa-1");
    assert_eq!(me(&app, &token.rs256(), org).await.status(), 200);
    assert_eq!(me(&app, &token.rs256(), org).await.status(), 200);
    assert_eq!(fake.fetches(), 1, "known kids come from the cache");

    let unknown = Token::member(org, "member").kid("rotated-in-later");
    for _ in 0..5 {
        assert_eq!(me(&app, &unknown.rs256(), org).await.status(), 401);
    }
    assert_eq!(
        fake.fetches(),
        1,
        "within the refetch interval no refetch happens"
    );

    // Header-carried key locations are ignored: this token points at its own
    // key set and is signed by a key the JWKS does not hold.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rsa-1".into());
    header.jku = Some("https://evil.test/jwks.json".into());
    header.x5u = Some("https://evil.test/cert.pem".into());
    let forged = jsonwebtoken::encode(
        &header,
        &token.claims,
        &EncodingKey::from_rsa_pem(fixture("rsa_other_private.pem").as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(me(&app, &forged, org).await.status(), 401);
}

#[tokio::test]
async fn jwks_unknown_kid_refetches_once_the_interval_passed() {
    let jwks: serde_json::Value = serde_json::from_str(&fixture("jwks.json")).unwrap();
    let (fake, url) = FakeJwks::start(jwks).await;
    let app = TestApp::builder()
        .without("JWT_SECRET")
        .env("JWT_ALGORITHM", "RS256")
        .env("JWT_JWKS_URL", url)
        .env("JWT_JWKS_REFETCH_SECONDS", "1")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let unknown = Token::member(org, "member").kid("not-yet");
    let first = std::time::Instant::now();
    assert_eq!(me(&app, &unknown.rs256(), org).await.status(), 401);
    assert_eq!(fake.fetches(), 1);
    // Asked again and again: no refetch until the interval has passed,
    // then exactly one.
    eventually(Duration::from_secs(10), "a refetch", || async {
        assert_eq!(me(&app, &unknown.rs256(), org).await.status(), 401);
        (fake.fetches() >= 2).then_some(())
    })
    .await;
    assert!(
        first.elapsed() >= Duration::from_secs(1),
        "refetched after {:?}, within the interval",
        first.elapsed()
    );
    assert_eq!(fake.fetches(), 2);
}

#[tokio::test]
async fn jwks_unreachable_is_503() {
    let app = TestApp::builder()
        .without("JWT_SECRET")
        .env("JWT_ALGORITHM", "RS256")
        .env("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "member").kid("test-rsa-1");
    problem(me(&app, &token.rs256(), org).await, 503, "auth_unavailable").await;
    // Still an outage on the next call, never a 401 that logs users out.
    problem(me(&app, &token.rs256(), org).await, 503, "auth_unavailable").await;
}

#[tokio::test]
async fn header_carried_key_locations_are_never_fetched() {
    let jwks: serde_json::Value = serde_json::from_str(&fixture("jwks.json")).unwrap();
    let (_trusted, url) = FakeJwks::start(jwks).await;
    // The attacker's key set: the public half of a key we do not trust,
    // under a kid the trusted set lacks.
    let (attacker, attacker_url) = FakeJwks::start(serde_json::json!({"keys": []})).await;
    let app = TestApp::builder()
        .without("JWT_SECRET")
        .env("JWT_ALGORITHM", "RS256")
        .env("JWT_JWKS_URL", url)
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("attacker-kid".into());
    header.jku = Some(attacker_url.clone());
    header.x5u = Some(attacker_url);
    let token = jsonwebtoken::encode(
        &header,
        &Token::member(org, "owner").claims,
        &EncodingKey::from_rsa_pem(fixture("rsa_other_private.pem").as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(me(&app, &token, org).await.status(), 401);
    assert_eq!(attacker.fetches(), 0, "jku/x5u are never followed");
}

#[tokio::test]
async fn bursts_beyond_the_org_rate_limit_are_429() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_PER_MINUTE", "3")
        .spawn()
        .await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "viewer").hs256();
    for _ in 0..3 {
        assert_eq!(me(&app, &token, org).await.status(), 200);
    }
    let response = me(&app, &token, org).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    problem(response, 429, "rate_limited").await;
    // Another org has its own budget.
    let other = Uuid::now_v7();
    assert_eq!(
        me(&app, &Token::member(other, "viewer").hs256(), other)
            .await
            .status(),
        200
    );
}

//! SPEC section 4 conventions: problem+json, request ids, limits,
//! idempotency.

use kisum_tests::{TestApp, Token, problem};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

fn authed(app: &TestApp, method: Method, path: &str, org: Uuid) -> reqwest::RequestBuilder {
    app.as_member(method, path, org, "owner")
}

#[tokio::test]
async fn framework_errors_are_problem_json() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();

    problem(
        app.get("/nowhere").send().await.unwrap(),
        404,
        "route_not_found",
    )
    .await;
    let response = app.http.put(app.url("/healthz")).send().await.unwrap();
    problem(response, 405, "method_not_allowed").await;

    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_json").await;

    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .json(&json!({"name": 42}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "invalid_body").await;
    assert!(body["detail"].as_str().unwrap().contains("name"), "{body}");

    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .json(&json!({"name": "ok", "colour": "red"}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "invalid_body").await;

    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .body("{\"name\": \"x\"}")
        .send()
        .await
        .unwrap();
    problem(response, 415, "unsupported_media_type").await;

    let response = authed(&app, Method::GET, "/api/v1/shortlists/not-a-uuid", org)
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_path").await;

    let response = authed(&app, Method::GET, "/api/v1/shortlists?limit=ten", org)
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_query").await;

    let response = authed(&app, Method::GET, "/api/v1/shortlists?cursor=garbage", org)
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "cursor");

    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .json(&json!({"name": "   ", "description": "x".repeat(2001)}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "description"]);
    for e in body["errors"].as_array().unwrap() {
        assert!(e["message"].is_string());
    }

    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .json(&json!({"name": "nul\u{0}byte"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "name");

    // Nothing was written by any of the above.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM shortlists")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// The server answers 413 as soon as the limit is crossed and closes the
/// connection; the client sees the answer or, still writing, a broken pipe.
async fn assert_refused(sent: reqwest::Result<reqwest::Response>) {
    match sent {
        Ok(response) => {
            problem(response, 413, "body_too_large").await;
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "unexpected error {e}"),
    }
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    // Declared too long: refused before the body is read. The body is kept
    // small enough to be fully written, so the 413 is seen.
    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .header("content-type", "application/json")
        .header("content-length", (1024 * 1024 + 10).to_string())
        .body(vec![b' '; 1024 * 1024 + 10])
        .send()
        .await;
    assert_refused(response).await;
    // Streamed without a declared length: cut off at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"name\":\"x\",\"description\":\"".to_vec()),
        Ok(vec![b'y'; 1024 * 1024 + 10]),
        Ok(b"\"}".to_vec()),
    ];
    let sent = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    assert_refused(sent).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM shortlists")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing is stored");
    // A body within the limit is accepted.
    let response = authed(&app, Method::POST, "/api/v1/shortlists", org)
        .json(&json!({"name": "x", "description": "fits"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn request_ids_are_kept_or_made() {
    let app = TestApp::spawn().await;
    let response = app
        .get("/healthz")
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-abc-123");
    let response = app.get("/healthz").send().await.unwrap();
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(Uuid::parse_str(&made).is_ok(), "{made}");
    // And the problem body carries the same id.
    let response = app
        .get("/nowhere")
        .header("x-request-id", "req-xyz")
        .send()
        .await
        .unwrap();
    let body = problem(response, 404, "route_not_found").await;
    assert_eq!(body["request_id"], "req-xyz");
}

#[tokio::test]
async fn idempotency_key_replays_rejects_and_scopes_per_org() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "owner").hs256();
    let create = |body: serde_json::Value, key: &str, org: Uuid, token: &str| {
        app.post("/api/v1/shortlists")
            .bearer_auth(token)
            .header("x-org", org.to_string())
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = create(json!({"name": "Summer"}), "key-1", org, &token)
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_etag = first.headers()["etag"].clone();
    let first: serde_json::Value = first.json().await.unwrap();

    let replay = create(json!({"name": "Summer"}), "key-1", org, &token)
        .await
        .unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.headers()["etag"], first_etag);
    assert_eq!(replay.headers()["content-type"], "application/json");
    let replay: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(replay, first);

    let mismatch = create(json!({"name": "Winter"}), "key-1", org, &token)
        .await
        .unwrap();
    problem(mismatch, 422, "idempotency_key_reused").await;

    // The same key in another org is another request.
    let other = Uuid::now_v7();
    let other_token = Token::member(other, "owner").hs256();
    let response = create(json!({"name": "Summer"}), "key-1", other, &other_token)
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_ne!(body["id"], first["id"]);

    // An error outcome (4xx) is kept and replayed as well.
    let bad = create(json!({"name": ""}), "key-2", org, &token)
        .await
        .unwrap();
    problem(bad, 422, "validation_failed").await;
    let bad_again = create(json!({"name": ""}), "key-2", org, &token)
        .await
        .unwrap();
    assert_eq!(bad_again.headers()["idempotent-replayed"], "true");
    problem(bad_again, 422, "validation_failed").await;

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM shortlists WHERE org_id = $1")
        .bind(org)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);

    let response = create(json!({"name": "x"}), &"k".repeat(300), org, &token)
        .await
        .unwrap();
    problem(response, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_record() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let token = Token::member(org, "owner").hs256();
    let mut requests = Vec::new();
    for _ in 0..8 {
        requests.push(
            app.post("/api/v1/shortlists")
                .bearer_auth(&token)
                .header("x-org", org.to_string())
                .header("idempotency-key", "race-key")
                .json(&json!({"name": "Raced"}))
                .send(),
        );
    }
    let responses = futures::future::join_all(requests).await;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            201 => {
                let body: serde_json::Value = response.json().await.unwrap();
                ids.insert(body["id"].as_str().unwrap().to_owned());
            }
            409 => {
                problem(response, 409, "idempotency_in_progress").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ids.len(), 1, "every success names the same record");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM shortlists WHERE org_id = $1")
        .bind(org)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

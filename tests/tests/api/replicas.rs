//! Reads on a real streaming replica (SPEC 5.11): a primary and a hot
//! standby made from the system's Postgres binaries (`pg_basebackup -R`)
//! on free ports, the API reading from the standby what tolerates lag.
//! Replay is paused (`pg_wal_replay_pause()`) to make the standby lag on
//! purpose; a company created on the primary is then missing from it.

use std::time::Duration;

use kisum_tests::processes::ReplicaPair;
use kisum_tests::{Org, TestApp, eventually};
use reqwest::Method;
use serde_json::json;

/// An API on the pair's primary reading from its standby.
async fn api(pair: &ReplicaPair, max_lag_ms: u64) -> TestApp {
    TestApp::builder()
        .database(pair.database())
        .env("DATABASE_READ_URL", pair.standby_url())
        .env("REPLICA_MAX_LAG_MS", max_lag_ms.to_string())
        .spawn()
        .await
}

/// Creates a company; its id and the write's consistency token.
async fn company(app: &TestApp, org: &Org, name: &str) -> (String, String) {
    let response = org
        .req(app, Method::POST, "/api/v1/artists-companies")
        .json(&json!({"name": name, "kind": "promoter", "country": "NL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let token = response.headers()["consistency-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), token)
}

/// The status of a read of the company, with the token when given.
async fn read(app: &TestApp, org: &Org, id: &str, token: Option<&str>) -> u16 {
    let mut request = org.req(app, Method::GET, &format!("/api/v1/artists-companies/{id}"));
    if let Some(token) = token {
        request = request.header("consistency-token", token);
    }
    request.send().await.unwrap().status().as_u16()
}

/// With replay paused: a tokenless read is served by the lagging standby
/// while its lag is within the bound (the new company is missing there),
/// and by the primary past it; a read carrying the write's token sees the
/// write at once. With the standby stopped every read still succeeds, and
/// once it is back it serves reads again.
#[tokio::test]
async fn reads_follow_the_token_and_the_lag_bound_and_survive_the_standby_stopping() {
    let pair = ReplicaPair::start().await;
    // One API tolerates a minute of lag, the other a fifth of a second.
    let tolerant = api(&pair, 60_000).await;
    let strict = api(&pair, 200).await;
    let org = Org::new();

    pair.pause().await;
    let (id, token) = company(&tolerant, &org, "Lagging Promotions").await;
    assert!(token.contains('/'), "a WAL position: {token}");
    // The tolerant API reads the standby once its monitor has measured it
    // (lag within a minute): the company is not there.
    eventually(
        Duration::from_secs(30),
        "a tokenless read served by the paused standby",
        || async { (read(&tolerant, &org, &id, None).await == 404).then_some(()) },
    )
    .await;
    // The strict API's bound has passed: the primary answers.
    eventually(
        Duration::from_secs(30),
        "a tokenless read past the lag bound served by the primary",
        || async { (read(&strict, &org, &id, None).await == 200).then_some(()) },
    )
    .await;
    // The token: the write is seen, through either API.
    assert_eq!(read(&tolerant, &org, &id, Some(&token)).await, 200);
    assert_eq!(read(&strict, &org, &id, Some(&token)).await, 200);
    // Still within a minute: the tolerant API still reads the standby.
    assert_eq!(read(&tolerant, &org, &id, None).await, 404);
    // A value that is not a token is refused.
    let response = org
        .req(
            &tolerant,
            Method::GET,
            &format!("/api/v1/artists-companies/{id}"),
        )
        .header("consistency-token", "not-a-position")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_consistency_token", "{problem}");

    // Replay resumes: the standby catches up and shows the company.
    pair.resume().await;
    eventually(Duration::from_secs(30), "the standby caught up", || async {
        (read(&tolerant, &org, &id, None).await == 200).then_some(())
    })
    .await;

    // The standby stops: every read still succeeds, on the primary.
    pair.standby.stop();
    for _ in 0..20 {
        assert_eq!(read(&tolerant, &org, &id, None).await, 200);
        assert_eq!(read(&strict, &org, &id, Some(&token)).await, 200);
        let (status, _) = org.get(&tolerant, "/api/v1/artists-companies").await;
        assert_eq!(status, 200);
    }
    // It comes back and is used again, by itself.
    pair.standby.start_again().await;
    pair.pause().await;
    let (later, _) = company(&tolerant, &org, "Returning Promotions").await;
    eventually(
        Duration::from_secs(30),
        "the restarted standby serving reads again",
        || async { (read(&tolerant, &org, &later, None).await == 404).then_some(()) },
    )
    .await;
    pair.resume().await;
}

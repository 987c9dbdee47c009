//! Liveness and readiness.

use kisum_tests::{TestApp, TestDb, problem};

#[tokio::test]
async fn readyz_waits_for_migrations() {
    let db = TestDb::empty().await;
    let url = db.url.clone();
    let app = TestApp::builder().database(db).spawn().await;

    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    problem(
        app.get("/readyz").send().await.unwrap(),
        503,
        "migrations_pending",
    )
    .await;

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    shared::db::migrate(&pool).await.unwrap();
    let response = app.get("/readyz").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    pool.close().await;
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_unreachable() {
    let app = TestApp::builder()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/nothing")
        .env("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")
        .spawn()
        .await;
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    problem(
        app.get("/readyz").send().await.unwrap(),
        503,
        "database_unavailable",
    )
    .await;
}

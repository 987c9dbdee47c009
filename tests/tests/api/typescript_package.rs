//! The TypeScript client package (`clients/typescript`, `@kisum/artist-client`)
//! stays current with the served OpenAPI document, builds under
//! `tsc --strict`, and walks the product's main path end to end against
//! the real API and worker (`node --test`, written with the client as a
//! frontend would). Its packages are pinned in its package-lock.json;
//! `./deploy/dev.sh test` installs them (`npm ci`). Without them these
//! tests fail rather than passing unseen. `node --test` runs every file of
//! `clients/typescript/test`: the main path, and the layer against a
//! scripted `fetch`.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use kisum_tests::{TestApp, WorkerProcess};
use sqlx::PgPool;
use uuid::Uuid;

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .join("clients/typescript")
}

fn require_tools(dir: &Path) {
    kisum_tests::require_node_packages(
        "the TypeScript client package",
        dir,
        &["openapi-typescript", "openapi-fetch", "typescript"],
        "run `./deploy/dev.sh test`, which installs them (`npm ci` in clients/typescript)",
    );
}

/// Runs node with `args` in the package's folder: its output, whatever
/// the outcome.
async fn node(dir: &Path, args: &[&std::ffi::OsStr], env: &[(&str, String)]) -> Output {
    let mut command = tokio::process::Command::new("node");
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("node {args:?} ends within 5 minutes"))
        .unwrap_or_else(|e| panic!("node starts: {e}"))
}

fn assert_ran(step: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{step} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `tsc --strict` over the package, writing the build to `out`.
async fn build(dir: &Path, out: &Path) {
    let tsc = dir.join("node_modules/typescript/bin/tsc");
    let output = node(
        dir,
        &[
            tsc.as_os_str(),
            "--strict".as_ref(),
            "-p".as_ref(),
            dir.join("tsconfig.json").as_os_str(),
            "--outDir".as_ref(),
            out.as_os_str(),
        ],
        &[],
    )
    .await;
    assert_ran("tsc --strict (the package build)", &output);
}

#[tokio::test]
async fn typescript_package_types_are_current_with_the_served_document_and_build() {
    let dir = package_dir();
    require_tools(&dir);
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document = response.bytes().await.unwrap();

    let scratch = std::env::temp_dir().join(format!("kisum-ts-package-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).unwrap();
    let spec = scratch.join("openapi.json");
    std::fs::write(&spec, &document).unwrap();
    let generated = scratch.join("generated");
    let output = node(
        &dir,
        &[
            dir.join("scripts/generate.mjs").as_os_str(),
            spec.as_os_str(),
            generated.as_os_str(),
        ],
        &[],
    )
    .await;
    assert_ran("scripts/generate.mjs", &output);
    for file in ["kisum-api.ts", "conditional.ts"] {
        let fresh = std::fs::read_to_string(generated.join(file)).unwrap();
        let committed_path = dir.join("src/generated").join(file);
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(
            fresh == committed,
            "{} is not current with the served OpenAPI document: regenerate it with \
             `npm run generate` in clients/typescript (it reads api/openapi.json; update that \
             snapshot first with `UPDATE_SNAPSHOTS=1 cargo nextest run -p kisum-tests -E \
             'test(/openapi/)'`, or pass a document: `node scripts/generate.mjs <openapi.json>`), \
             then commit it",
            committed_path.display()
        );
    }
    build(&dir, &scratch.join("dist")).await;
    assert!(scratch.join("dist/index.js").is_file());
    assert!(scratch.join("dist/index.d.ts").is_file());
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// Moves a booking's show into the past, as time would: the node test
/// calls it once the show has "happened" (a booking is completed on or
/// after its date; `shared::domain::booking::bookings`), the way the Rust
/// tests of ratings do it in SQL.
async fn show_played(State(pool): State<PgPool>, UrlPath(booking): UrlPath<Uuid>) -> StatusCode {
    let moved = sqlx::query("UPDATE bookings SET event_date = current_date - 1 WHERE id = $1")
        .bind(booking)
        .execute(&pool)
        .await
        .unwrap();
    if moved.rows_affected() == 1 {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn show_clock(pool: PgPool) -> String {
    let app = Router::new()
        .route("/bookings/{id}/played", post(show_played))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn typescript_package_walks_the_main_path_against_the_api_and_worker() {
    let dir = package_dir();
    require_tools(&dir);
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let p = kisum_tests::booking_parties(&app, "Client Agency", "Client Filler", &[]).await;
    let clock = show_clock(app.pool.clone()).await;
    build(&dir, &dir.join("dist")).await;

    let env = [
        ("KISUM_BASE_URL", app.base.clone()),
        ("KISUM_AGENCY_TOKEN", p.agency.token.clone()),
        ("KISUM_AGENCY_ORG", p.agency.id.to_string()),
        ("KISUM_AGENCY_COMPANY", p.agency_company.clone()),
        ("KISUM_PROMOTER_TOKEN", p.promoter.token.clone()),
        ("KISUM_PROMOTER_ORG", p.promoter.id.to_string()),
        ("KISUM_PROMOTER_COMPANY", p.promoter_company.clone()),
        ("KISUM_SHOW_CLOCK_URL", clock),
    ];
    let output = node(
        &dir,
        &[
            "--test".as_ref(),
            "--test-reporter=spec".as_ref(),
            "test/".as_ref(),
        ],
        &env,
    )
    .await;
    assert_ran("node --test (clients/typescript/test)", &output);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("the main path, from the marketplace to the ratings"),
        "the main path ran:\n{report}"
    );
}

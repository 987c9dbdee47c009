//! The served OpenAPI document stays usable by frontends: openapi-typescript
//! generates types from it and `tsc --strict` type-checks them together with
//! `tests/typescript/usage.ts`, a few lines of client code using them. Both
//! tools are pinned in `tests/typescript/package-lock.json`;
//! `./deploy/dev.sh test` installs them (`npm ci`). Without them this test
//! fails rather than passing unseen.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use kisum_tests::TestApp;
use uuid::Uuid;

fn typescript_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("typescript")
}

/// Node and the pinned packages are there, or the test fails saying how to
/// get them.
fn require_tools(dir: &Path) {
    kisum_tests::require_node_packages(
        "the TypeScript check",
        dir,
        &["openapi-typescript", "typescript"],
        "run `./deploy/dev.sh test`, which installs them (`npm ci` in tests/typescript)",
    );
}

/// Runs a package's script with node; its output, whatever the outcome.
async fn node(dir: &Path, script: &str, args: &[&Path]) -> Output {
    let run = tokio::process::Command::new("node")
        .arg(dir.join("node_modules").join(script))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("{script} ends within 2 minutes"))
        .unwrap_or_else(|e| panic!("node starts {script}: {e}"))
}

fn assert_ran(step: &str, output: &Output, scratch: &Path) {
    assert!(
        output.status.success(),
        "{step} failed ({}); files in {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        scratch.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_served_document_generates_typescript_that_type_checks() {
    let dir = typescript_dir();
    require_tools(&dir);
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document = response.bytes().await.unwrap();

    let scratch = std::env::temp_dir().join(format!("kisum-typescript-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).unwrap();
    let spec = scratch.join("openapi.json");
    std::fs::write(&spec, &document).unwrap();
    for file in ["usage.ts", "tsconfig.json"] {
        std::fs::copy(dir.join(file), scratch.join(file)).unwrap();
    }

    let generated = scratch.join("kisum-api.ts");
    let output = node(
        &dir,
        "openapi-typescript/bin/cli.js",
        &[&spec, Path::new("-o"), &generated],
    )
    .await;
    assert_ran("openapi-typescript", &output, &scratch);
    assert!(generated.is_file(), "{} is written", generated.display());

    let config = scratch.join("tsconfig.json");
    let output = node(
        &dir,
        "typescript/bin/tsc",
        &[Path::new("--strict"), Path::new("-p"), &config],
    )
    .await;
    assert_ran("tsc --strict", &output, &scratch);
    std::fs::remove_dir_all(&scratch).unwrap();
}

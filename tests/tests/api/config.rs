//! A bad or missing required variable stops the binaries with one line
//! naming it.

use std::process::Command;

use kisum_tests::worker_binary;

fn api_binary() -> std::path::PathBuf {
    worker_binary().with_file_name("kisum-api")
}

fn run(binary: &std::path::Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(binary)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn missing_and_malformed_variables_are_named() {
    let api = api_binary();
    let (code, stderr) = run(&api, &[]);
    assert_eq!(code, Some(78));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("INTERNAL_API_KEYS"), "{stderr}");

    let base = [
        ("INTERNAL_API_KEYS", "a-long-enough-internal-key-000"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ];
    let (code, stderr) = run(&api, &base);
    assert_eq!(code, Some(78));
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");

    let mut bad_port = base.to_vec();
    bad_port.extend([
        ("DATABASE_URL", "postgres://localhost/x"),
        ("PORT", "eighty"),
    ]);
    let (code, stderr) = run(&api, &bad_port);
    assert_eq!(code, Some(78));
    assert!(stderr.contains("PORT"), "{stderr}");

    let mut bad_proxies = base.to_vec();
    bad_proxies.extend([
        ("DATABASE_URL", "postgres://localhost/x"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, 10.300.0.0/16"),
    ]);
    let (code, stderr) = run(&api, &bad_proxies);
    assert_eq!(code, Some(78));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("TRUSTED_PROXIES")
            && stderr.contains("\"10.300.0.0/16\" is not a CIDR block"),
        "{stderr}"
    );

    let (code, stderr) = run(&worker_binary(), &[("DATABASE_URL", "mysql://x")]);
    assert_eq!(code, Some(78));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");

    let (code, stderr) = run(
        &worker_binary(),
        &[
            ("DATABASE_URL", "postgres://localhost/x"),
            ("JOB_RETENTION_HOURS", "0"),
        ],
    );
    assert_eq!(code, Some(78));
    assert!(stderr.contains("JOB_RETENTION_HOURS"), "{stderr}");
}

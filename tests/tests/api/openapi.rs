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

async fn served() -> serde_json::Value {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Every operation: (path, method, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((path.clone(), method.to_owned(), op.clone()));
            }
        }
    }
    ops
}

/// A response as documented, following a `$ref` into components.
fn response<'a>(
    doc: &'a serde_json::Value,
    op: &'a serde_json::Value,
    status: &str,
) -> Option<&'a serde_json::Value> {
    let r = op["responses"].get(status)?;
    match r["$ref"].as_str() {
        Some(target) => resolve(doc, target),
        None => Some(r),
    }
}

fn resolve<'a>(doc: &'a serde_json::Value, target: &str) -> Option<&'a serde_json::Value> {
    doc.pointer(target.strip_prefix('#')?)
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => out.push(target.to_owned()),
                    _ => collect_refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_operation_ids_are_unique() {
    let doc = served().await;
    let mut seen = std::collections::BTreeMap::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has an operationId"))
            .to_owned();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} used by {other} and {method} {path}");
        }
    }
    assert!(seen.len() > 100, "{} operations", seen.len());
}

#[tokio::test]
async fn openapi_refs_resolve_and_tags_are_declared() {
    let doc = served().await;
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 100);
    let dangling: Vec<_> = refs.iter().filter(|r| resolve(&doc, r).is_none()).collect();
    assert!(dangling.is_empty(), "dangling $refs: {dangling:?}");

    let declared: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (path, method, op) in operations(&doc) {
        let tags = op["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has tags"));
        assert!(!tags.is_empty(), "{method} {path} has a tag");
        for tag in tags {
            assert!(
                declared.contains(&tag.as_str().unwrap()),
                "{method} {path}: tag {tag} is not declared"
            );
        }
    }
}

/// Two Rust enums of one name once shared a schema, so one of them was
/// documented with the other's values.
#[tokio::test]
async fn openapi_status_enums_are_their_own() {
    let doc = served().await;
    let schemas = &doc["components"]["schemas"];
    let values = |name: &str| -> Vec<String> {
        schemas[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is an enum schema"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(values("BookingRequestStatus").contains(&"converted".to_owned()));
    assert!(values("OwnershipRequestStatus").contains(&"approved".to_owned()));
    assert!(values("RepresentationClaimStatus").contains(&"disputed".to_owned()));
    assert_eq!(values("RequestDirection"), ["incoming", "outgoing"]);
    assert_eq!(
        schemas["CompanyClaim"]["properties"]["status"]["$ref"],
        "#/components/schemas/OwnershipRequestStatus"
    );
    assert_eq!(
        schemas["BookingRequest"]["properties"]["status"]["$ref"],
        "#/components/schemas/BookingRequestStatus"
    );
}

fn is_problem(doc: &serde_json::Value, op: &serde_json::Value, status: &str) -> bool {
    response(doc, op, status).is_some_and(|r| {
        r["content"]["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem"
            && r["content"].as_object().unwrap().len() == 1
    })
}

/// Routes under `/api/v1` open to anyone: no token, no tenant data.
const PUBLIC: &[&str] = &[
    "/api/v1/contract-signing-keys",
    "/api/v1/contract-verifications/{sha256}",
    "/api/v1/tour-feeds/{token}/itinerary.ics",
];

/// What the shared middleware answers is on every operation it wraps.
#[tokio::test]
async fn openapi_documents_the_shared_answers() {
    let doc = served().await;
    let mut tenant = 0;
    for (path, method, op) in operations(&doc) {
        let at = format!("{method} {path}");
        let public = PUBLIC.contains(&path.as_str());
        if public {
            assert!(op.get("security").is_none(), "{at} is public");
        }
        for (status, _) in op["responses"].as_object().unwrap() {
            let described = response(&doc, &op, status).unwrap()["description"].as_str();
            assert!(
                described.is_some_and(|d| !d.is_empty()),
                "{at}: {status} has a description"
            );
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    is_problem(&doc, &op, status),
                    "{at}: {status} is problem+json"
                );
            }
        }
        if path.starts_with("/api/v1/") && !public {
            tenant += 1;
            for status in ["400", "401", "403", "429", "503"] {
                assert!(is_problem(&doc, &op, status), "{at} documents {status}");
            }
            assert!(
                response(&doc, &op, "429").unwrap()["headers"]
                    .get("Retry-After")
                    .is_some(),
                "{at}"
            );
            assert!(
                response(&doc, &op, "401").unwrap()["headers"]
                    .get("WWW-Authenticate")
                    .is_some(),
                "{at}"
            );
            assert_eq!(
                op["security"],
                serde_json::json!([{"bearer": [], "org": []}]),
                "{at}"
            );
        }
        if path.starts_with("/internal/") {
            assert!(is_problem(&doc, &op, "401"), "{at} documents 401");
            assert_eq!(
                op["security"],
                serde_json::json!([{"internal_key": []}]),
                "{at}"
            );
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    is_problem(&doc, &op, status),
                    "{at} with a body documents {status}"
                );
            }
        }
        if path.contains('{') {
            for status in ["400", "404"] {
                assert!(
                    is_problem(&doc, &op, status),
                    "{at} with a path id documents {status}"
                );
            }
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let header = |name: &str| {
            params
                .iter()
                .any(|p| p["in"] == "header" && p["name"] == name)
        };
        let idempotent = path.starts_with("/api/v1/") && !public && method == "post";
        assert_eq!(
            header("Idempotency-Key"),
            idempotent,
            "{at}: Idempotency-Key on every tenant POST, and only there"
        );
        if idempotent {
            for status in ["409", "422"] {
                assert!(is_problem(&doc, &op, status), "{at} documents {status}");
            }
            let success = success_response(&op);
            assert!(
                success["headers"].get("Idempotent-Replayed").is_some(),
                "{at}"
            );
        }
        if header("If-Match") {
            assert!(
                is_problem(&doc, &op, "412"),
                "{at} honours If-Match and documents 412"
            );
            // A 204 (a delete) leaves no representation to tag.
            let success = success_response(&op);
            assert!(
                success["headers"].get("ETag").is_some() || op["responses"].get("204").is_some(),
                "{at} answers with an ETag"
            );
        }
    }
    assert!(tenant > 80, "{tenant} tenant operations");
}

/// An operation's first 2xx response.
fn success_response(op: &serde_json::Value) -> &serde_json::Value {
    op["responses"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(s, _)| s.starts_with('2'))
        .unwrap()
        .1
}

/// Two Rust types of one schema name share one component: utoipa keeps
/// one and the other type's operations are documented wrong (the contract
/// audit entry once replaced the ops job audit entry). Every `ToSchema`
/// type in the source has a name of its own.
#[test]
fn schema_names_are_unique_in_the_source() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut dirs = vec![root.join("shared/src"), root.join("api/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            if !(line.starts_with("#[derive(") && line.contains("ToSchema")) {
                continue;
            }
            let mut alias = None;
            for next in &lines[i + 1..] {
                if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                    alias = rest.split(')').next().map(str::to_owned);
                }
                let item = next
                    .strip_prefix("pub struct ")
                    .or_else(|| next.strip_prefix("pub enum "));
                if let Some(item) = item {
                    let name = item
                        .split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap()
                        .to_owned();
                    let name = alias.take().unwrap_or(name);
                    let at = format!("{}:{}", file.display(), i + 1);
                    if let Some(other) = seen.insert(name.clone(), at.clone()) {
                        panic!("schema {name} is declared at {other} and at {at}");
                    }
                    break;
                }
            }
        }
    }
    assert!(seen.len() > 100, "{} schemas found", seen.len());
}

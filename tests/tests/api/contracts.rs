//! SPEC 5.5: templates, booking contracts, signing in order, versions that
//! clear signatures, the hash-chained audit and its seal, documents read
//! back from the PDF, verification by hash, reminders and expiry through
//! the real worker.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use kisum_tests::fakes::FakeWebhooks;
use kisum_tests::{
    BookingParties, Org, TestApp, WorkerProcess, eventually, problem, wait_queue_drained,
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Two parties and a confirmed booking between them.
pub(crate) async fn booked(app: &TestApp, name: &str) -> (BookingParties, String) {
    let p = kisum_tests::booking_parties(app, &format!("{name} Agency"), name, &[]).await;
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company,
        "event_date": Utc::now().date_naive() + chrono::Duration::days(90),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": {"type": "versus", "currency": "EUR", "guarantee_amount": 1_250_000,
                 "percentage": 85.0, "percentage_basis": "net", "deposit_percent": 50.0,
                 "deposit_due_date": Utc::now().date_naive() + chrono::Duration::days(30),
                 "set_length_minutes": 90, "radius": {"km": 100, "days_before": 30, "days_after": 14},
                 "hospitality": "Catering for 8 <b>and</b> # no headline"},
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    });
    let (status, offer) = p
        .promoter
        .send(app, Method::POST, "/api/v1/offers", Some(offer))
        .await;
    assert_eq!(status, 201, "{offer}");
    let offer = offer["id"].as_str().unwrap();
    let path = format!("/api/v1/offers/{offer}/accept");
    let (status, body) = p.agency.send(app, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, booking) = p
        .promoter
        .send(
            app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": offer})),
        )
        .await;
    assert_eq!(status, 201, "{booking}");
    (p, booking["id"].as_str().unwrap().to_owned())
}

/// The agency's starter template.
pub(crate) async fn starter_template(app: &TestApp, p: &BookingParties) -> String {
    let path = format!(
        "/api/v1/artists-companies/{}/contract-templates",
        p.agency_company
    );
    let body = json!({"name": "Performance agreement", "starter": "performance_agreement"});
    let (status, template) = p.agency.send(app, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 201, "{template}");
    template["id"].as_str().unwrap().to_owned()
}

fn signers() -> Value {
    json!([
        {"name": "Pia Promoter", "email": "pia@promoter.test", "party": "promoter"},
        {"name": "Aga Agent", "email": "aga@agency.test", "party": "agency"},
    ])
}

/// A contract of the booking, sent for signature.
pub(crate) async fn sent_contract(app: &TestApp, p: &BookingParties, booking: &str) -> Value {
    let template = starter_template(app, p).await;
    let path = format!("/api/v1/bookings/{booking}/contracts");
    let body = json!({"template_id": template, "title": "Paradiso show", "signers": signers()});
    let (status, contract) = p.agency.send(app, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 201, "{contract}");
    assert_eq!(contract["status"], "draft");
    let path = format!(
        "/api/v1/contracts/{}/send",
        contract["id"].as_str().unwrap()
    );
    let (status, contract) = p.agency.send(app, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{contract}");
    assert_eq!(contract["status"], "out_for_signature");
    contract
}

pub(crate) fn signer(contract: &Value, party: &str) -> String {
    contract["signers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["party"] == party)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn sign_body(contract: &Value, name: &str) -> Value {
    json!({
        "typed_name": name,
        "consent_statement": contract["consent_statement"],
        "content_sha256": contract["content_sha256"],
    })
}

/// `party`'s signer signs `contract` as `org`: the status and the contract.
pub(crate) async fn sign(app: &TestApp, org: &Org, contract: &Value, party: &str) -> (u16, Value) {
    let path = format!(
        "/api/v1/contracts/{}/signers/{}/sign",
        contract["id"].as_str().unwrap(),
        signer(contract, party)
    );
    org.send(app, Method::POST, &path, Some(sign_body(contract, party)))
        .await
}

/// The text of a PDF, read back by poppler's `pdftotext` (installed by
/// `./deploy/dev.sh test`).
fn pdf_text(pdf: &[u8], page: Option<u32>) -> String {
    let dir = std::env::temp_dir().join(format!("kisum-pdf-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("contract.pdf");
    std::fs::write(&file, pdf).unwrap();
    let mut command = std::process::Command::new("pdftotext");
    if let Some(page) = page {
        command.args(["-f", &page.to_string(), "-l", &page.to_string()]);
    }
    let output = command
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed by ./deploy/dev.sh test");
    assert!(output.status.success(), "pdftotext failed");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(output.stdout).unwrap()
}

fn pdf_pages(pdf: &[u8]) -> u32 {
    let dir = std::env::temp_dir().join(format!("kisum-pdf-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("contract.pdf");
    std::fs::write(&file, pdf).unwrap();
    let output = std::process::Command::new("pdfinfo")
        .arg(&file)
        .output()
        .expect("pdfinfo (poppler-utils)");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().unwrap()))
        .unwrap()
}

/// Checks an Ed25519 signature with OpenSSL, an implementation of its own.
pub(crate) fn openssl_verifies(public_key_pem: &str, message: &str, signature_b64: &str) -> bool {
    let dir = std::env::temp_dir().join(format!("kisum-seal-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key.pem"), public_key_pem).unwrap();
    std::fs::write(dir.join("message"), message).unwrap();
    std::fs::write(dir.join("sig"), STANDARD.decode(signature_b64).unwrap()).unwrap();
    let status = std::process::Command::new("openssl")
        .current_dir(&dir)
        .args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in", "message",
            "-sigfile", "sig",
        ])
        .output()
        .expect("openssl");
    let _ = std::fs::remove_dir_all(&dir);
    status.status.success()
}

#[tokio::test]
async fn template_to_sealed_contract_promoter_first_then_agency() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Sealed").await;
    let contract = sent_contract(&app, &p, &booking).await;
    let id = contract["id"].as_str().unwrap().to_owned();

    // The rendered text carries the booking's terms, escaped for Markdown.
    let (_, versions) = p
        .promoter
        .get(&app, &format!("/api/v1/contracts/{id}/versions"))
        .await;
    let text = versions[0]["body"].as_str().unwrap();
    assert!(text.contains("EUR 12,500.00"), "{text}");
    assert!(text.contains("85%"), "{text}");
    assert!(!text.contains("<b>and</b>"), "free text is escaped: {text}");
    assert!(!text.contains("{{"), "{text}");
    assert_eq!(
        contract["content_sha256"],
        sha256_hex(text.as_bytes()),
        "the hash is of the exact bytes"
    );

    // The agency countersigns: before the promoter it is out of order.
    let (status, body) = sign(&app, &p.agency, &contract, "agency").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "signing_out_of_order");
    let (status, body) = sign(&app, &p.promoter, &contract, "promoter").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "partially_signed");
    assert!(body["seal"].is_null());
    let (status, signed) = sign(&app, &p.agency, &contract, "agency").await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["status"], "signed");
    let signature = &signed["signers"][0]["signature"];
    assert_eq!(signature["typed_name"], "promoter");
    assert_eq!(signature["content_sha256"], contract["content_sha256"]);
    assert_eq!(
        signature["consent_statement"],
        contract["consent_statement"]
    );

    // Signed is final.
    let path = format!("/api/v1/contracts/{id}/void");
    let response = p
        .agency
        .req(&app, Method::POST, &path)
        .json(&json!({"reason": "changed our mind"}))
        .send()
        .await
        .unwrap();
    problem(response, 409, "invalid_transition").await;

    // The audit chain verifies, and the seal verifies with OpenSSL against
    // the published key.
    let (status, audit) = p
        .promoter
        .get(&app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(audit["verified"], true, "{audit}");
    assert_eq!(audit["chain"]["valid"], true);
    assert_eq!(audit["seal_valid"], true);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "sent", "signed", "signed"]);
    let seal = &audit["seal"];
    assert_eq!(seal["audit_head"], audit["entries"][3]["hash"]);
    assert_eq!(seal["content_sha256"], contract["content_sha256"]);
    let keys: Value = app
        .get("/api/v1/contract-signing-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"][0]["public_key"], seal["public_key"]);
    let pem = keys["keys"][0]["public_key_pem"].as_str().unwrap();
    let message = seal["message"].as_str().unwrap();
    assert!(openssl_verifies(
        pem,
        message,
        seal["signature"].as_str().unwrap()
    ));
    assert!(!openssl_verifies(
        pem,
        &message.replace("version:1", "version:2"),
        seal["signature"].as_str().unwrap()
    ));

    // The PDF: read back, the hash on every page, served from storage the
    // second time.
    let path = format!("/api/v1/contracts/{id}/document?format=pdf");
    let first = p
        .promoter
        .req(&app, Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "application/pdf");
    let doc_sha = first.headers()["x-document-sha256"]
        .to_str()
        .unwrap()
        .to_owned();
    let pdf = first.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let artifacts =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("signed-contract.pdf"), &pdf).unwrap();
    assert_eq!(sha256_hex(&pdf), doc_sha);
    let all = pdf_text(&pdf, None);
    for expected in [
        "Paradiso show",
        "Pia Promoter",
        "Aga Agent",
        "EUR 12,500.00",
    ] {
        assert!(all.contains(expected), "{expected} in the PDF text:\n{all}");
    }
    let hash = contract["content_sha256"].as_str().unwrap();
    let pages = pdf_pages(&pdf);
    assert!(pages >= 2, "the starter agreement runs to pages: {pages}");
    for page in 1..=pages {
        let text = pdf_text(&pdf, Some(page))
            .split_whitespace()
            .collect::<String>();
        assert!(text.contains(hash), "page {page} shows the hash");
    }
    let again = p.agency.req(&app, Method::GET, &path).send().await.unwrap();
    assert_eq!(again.headers()["x-document-sha256"], doc_sha.as_str());
    assert_eq!(again.bytes().await.unwrap(), pdf);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contract_documents WHERE format = 'pdf'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1, "rendered once");

    // HTML by content negotiation, escaped.
    let html = p
        .promoter
        .req(
            &app,
            Method::GET,
            &format!("/api/v1/contracts/{id}/document"),
        )
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let headers = html.headers().clone();
    let html = html.text().await.unwrap();
    kisum_tests::assert_secure_page(&headers, &html);
    assert!(
        html.contains(hash) && !html.contains("<b>and</b>"),
        "{html}"
    );

    // Anyone holding the PDF (or the text) learns which contract it is.
    for sha in [doc_sha.as_str(), hash] {
        let response = app
            .get(&format!("/api/v1/contract-verifications/{sha}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let found: Value = response.json().await.unwrap();
        let m = &found["matches"][0];
        assert_eq!(m["contract_id"], id.as_str());
        assert_eq!(m["fully_signed"], true);
        assert_eq!(m["chain_valid"], true);
        assert_eq!(m["seal_valid"], true);
        assert_eq!(m["signatures"].as_array().unwrap().len(), 2);
        // What the document shows, not the contract's state since.
        assert!(m.get("status").is_none(), "{m}");
        assert!(m.get("current_version").is_none(), "{m}");
    }
    let unknown = app
        .get(&format!(
            "/api/v1/contract-verifications/{}",
            "0".repeat(64)
        ))
        .send()
        .await
        .unwrap();
    problem(unknown, 404, "not_found").await;

    // Every state change is in the booking's activity.
    let (_, trail) = p
        .agency
        .get(&app, &format!("/api/v1/bookings/{booking}/activity"))
        .await;
    let contract_steps: Vec<String> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["subject_type"] == "contract")
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(contract_steps, ["created", "sent", "signed", "signed"]);
}

#[tokio::test]
async fn a_new_version_clears_every_signature() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Versioned").await;
    let contract = sent_contract(&app, &p, &booking).await;
    let id = contract["id"].as_str().unwrap();
    let (status, _) = sign(&app, &p.promoter, &contract, "promoter").await;
    assert_eq!(status, 200);
    // A signature covers the contract as it stands: no more attachments.
    let attachments = format!("/api/v1/contracts/{id}/attachments");
    let rider = json!({"name": "Rider", "url": "https://files.test/rider.pdf",
                       "media_type": "application/pdf", "sha256": "ab".repeat(32)});
    let (status, body) = p
        .agency
        .send(&app, Method::POST, &attachments, Some(rider.clone()))
        .await;
    assert_eq!(status, 409, "{body}");

    let path = format!("/api/v1/contracts/{id}/versions");
    let body = json!({"body": "# Amended\n\nThe set is 75 minutes.", "note": "shorter set"});
    let (status, v2) = p
        .promoter
        .send(&app, Method::POST, &path, Some(body.clone()))
        .await;
    assert_eq!(
        status, 403,
        "the promoter does not write the contract: {v2}"
    );
    let (status, v2) = p.agency.send(&app, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["current_version"], 2);
    assert_eq!(v2["status"], "out_for_signature");
    assert_eq!(
        v2["content_sha256"],
        sha256_hex("# Amended\n\nThe set is 75 minutes.".as_bytes())
    );
    for s in v2["signers"].as_array().unwrap() {
        assert_eq!(s["status"], "pending", "{s}");
        assert!(s["signature"].is_null(), "{s}");
    }

    // A signature naming version 1's hash does not count for version 2.
    let (status, body) = sign(&app, &p.promoter, &contract, "promoter").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "contract_version_changed");
    let (_, audit) = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    let cleared = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "signatures_cleared")
        .expect("the audit says the signatures were cleared");
    assert_eq!(cleared["details"]["cleared"], 1);
    assert_eq!(audit["chain"]["valid"], true);
    let (status, body) = p
        .promoter
        .send(&app, Method::POST, &attachments, Some(rider))
        .await;
    assert_eq!(status, 201, "either party attaches before signing: {body}");
    let (status, signed) = sign(&app, &p.promoter, &v2, "promoter").await;
    assert_eq!(status, 200, "{signed}");
    let (_, audit) = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    let last = audit["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "signed");
    assert_eq!(
        last["details"]["attachments"][0]["sha256"],
        "ab".repeat(32),
        "the signature covers the attachment"
    );
    assert_eq!(signed["status"], "partially_signed");
    let (_, versions) = p.agency.get(&app, &path).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn only_each_partys_own_signers_sign_and_a_third_company_sees_nothing() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Guarded").await;
    let contract = sent_contract(&app, &p, &booking).await;
    let id = contract["id"].as_str().unwrap();

    // The agency cannot sign the promoter's line.
    let (status, body) = sign(&app, &p.agency, &contract, "promoter").await;
    assert_eq!(status, 403, "{body}");
    // A member without artist.contracts.sign cannot sign at all.
    let member = Org {
        id: p.promoter.id,
        token: kisum_tests::tokens::Token::member(p.promoter.id, "member").hs256(),
    };
    let (status, body) = sign(&app, &member, &contract, "promoter").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "permission_denied");
    // Declining says why, and the sender sees it.
    let path = format!(
        "/api/v1/contracts/{id}/signers/{}/decline",
        signer(&contract, "promoter")
    );
    let (status, declined) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &path,
            Some(json!({"reason": "Fee is wrong"})),
        )
        .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["status"], "declined");
    let (_, seen) = p.agency.get(&app, &format!("/api/v1/contracts/{id}")).await;
    assert_eq!(seen["status_reason"], "Fee is wrong");

    let outsider = Org::new();
    for path in [
        format!("/api/v1/contracts/{id}"),
        format!("/api/v1/contracts/{id}/audit"),
        format!("/api/v1/contracts/{id}/document"),
        format!("/api/v1/contracts/{}/versions", id),
        format!(
            "/api/v1/contract-templates/{}",
            contract["template_id"].as_str().unwrap()
        ),
        format!(
            "/api/v1/artists-companies/{}/contract-templates",
            p.agency_company
        ),
    ] {
        let response = outsider.req(&app, Method::GET, &path).send().await.unwrap();
        problem(response, 404, "not_found").await;
    }
    let (_, list) = outsider.get(&app, "/api/v1/contracts").await;
    assert_eq!(list["items"], json!([]));
    let (_, list) = p
        .promoter
        .get(&app, &format!("/api/v1/contracts?booking_id={booking}"))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // The template library is the agency's own, even for the promoter.
    let path = format!(
        "/api/v1/contract-templates/{}",
        contract["template_id"].as_str().unwrap()
    );
    let response = p
        .promoter
        .req(&app, Method::GET, &path)
        .send()
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
}

#[tokio::test]
async fn an_unknown_template_variable_is_422_naming_it_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let (p, _) = booked(&app, "Strict").await;
    let path = format!(
        "/api/v1/artists-companies/{}/contract-templates",
        p.agency_company
    );
    let response = p
        .agency
        .req(&app, Method::POST, &path)
        .json(&json!({"name": "Typo", "body": "Fee: {{ deal.guarantee_amnt }}"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422, "validation_failed").await;
    assert!(body.to_string().contains("deal.guarantee_amnt"), "{body}");
    let response = p
        .agency
        .req(&app, Method::POST, &path)
        .json(&json!({"name": "Broken", "body": "{% if deal.guarantee %}never closed"}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
    let (_, list) = p.agency.get(&app, &path).await;
    assert_eq!(list["items"], json!([]));

    // An edit makes a new template version; a bad edit changes nothing.
    let (status, template) = p
        .agency
        .send(
            &app,
            Method::POST,
            &path,
            Some(json!({"name": "Short", "body": "Show of {{ artist.name }}."})),
        )
        .await;
    assert_eq!(status, 201, "{template}");
    let tpath = format!(
        "/api/v1/contract-templates/{}",
        template["id"].as_str().unwrap()
    );
    let response = p
        .agency
        .req(&app, Method::PATCH, &tpath)
        .json(&json!({"body": "{{ promoter.nam }}"}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
    let (status, edited) = p
        .agency
        .send(
            &app,
            Method::PATCH,
            &tpath,
            Some(json!({"body": "Show of {{ artist.name }} at {{ venue.name }}."})),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["current_version"], 2);
    let (_, versions) = p.agency.get(&app, &format!("{tpath}/versions")).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let (_, catalogue) = p
        .agency
        .get(&app, "/api/v1/contract-template-catalogue")
        .await;
    assert!(
        catalogue["variables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "deal.guarantee")
    );
}

/// The audit is partitioned by month of `at`: a chain whose entries sit in
/// several months' partitions is read in `seq` order and verifies, and the
/// next entry links to the head wherever it is stored.
#[tokio::test]
async fn the_audit_chain_verifies_across_monthly_partitions() {
    use shared::domain::contracts::audit::entry_hash;

    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Partitioned").await;
    let contract = sent_contract(&app, &p, &booking).await;
    let id: uuid::Uuid = contract["id"].as_str().unwrap().parse().unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    shared::history::ensure_partitions(&mut conn, Utc::now())
        .await
        .unwrap();

    // Entries 3 and 4, written as the API would but dated in the next two
    // months, so that they land in partitions of their own.
    let (mut prev, next_month): (String, chrono::DateTime<Utc>) = sqlx::query_as(
        "SELECT (SELECT hash FROM contract_audit WHERE contract_id = $1 AND seq = 2),
                (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month 1 day 2 hours') AT TIME ZONE 'UTC'",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    for (seq, at) in [(3, next_month), (4, next_month + chrono::Months::new(1))] {
        let details = json!({"note": format!("entry {seq}")});
        let hash = entry_hash(
            id,
            seq,
            at,
            "system:archive",
            None,
            "noted",
            None,
            None,
            &details,
            &prev,
        );
        sqlx::query(
            "INSERT INTO contract_audit (contract_id, seq, at, actor, org_id, action, from_status, to_status,
                                         details, prev_hash, hash)
             VALUES ($1, $2, $3, 'system:archive', NULL, 'noted', NULL, NULL, $4, $5, $6)",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(&details)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *conn)
        .await
        .unwrap();
        prev = hash;
    }

    // Signing appends entries 5 and 6, dated now: before entry 4 in time,
    // after it in the chain.
    assert_eq!(sign(&app, &p.promoter, &contract, "promoter").await.0, 200);
    assert_eq!(sign(&app, &p.agency, &contract, "agency").await.0, 200);
    let partitions: Vec<(i32, String)> = sqlx::query_as(
        "SELECT seq, tableoid::regclass::text FROM contract_audit WHERE contract_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let distinct: std::collections::BTreeSet<&str> =
        partitions.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(distinct.len(), 3, "{partitions:?}");
    assert_ne!(partitions[3].1, partitions[4].1, "{partitions:?}");

    let (status, audit) = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(audit["chain"]["valid"], true, "{audit}");
    assert_eq!(audit["verified"], true, "{audit}");
    let entries = audit["entries"].as_array().unwrap();
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(entries[4]["prev_hash"], entries[3]["hash"], "{audit}");
    assert_eq!(entries[4]["action"], "signed");
    assert_eq!(audit["seal"]["audit_head"], entries[5]["hash"]);
}

#[tokio::test]
async fn a_tampered_audit_entry_fails_verification() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Tampered").await;
    let contract = sent_contract(&app, &p, &booking).await;
    let id = contract["id"].as_str().unwrap();
    sign(&app, &p.promoter, &contract, "promoter").await;
    sign(&app, &p.agency, &contract, "agency").await;

    // The trigger refuses edits made the ordinary way.
    let refused = sqlx::query("UPDATE contract_audit SET actor = 'someone' WHERE seq = 2")
        .execute(&app.pool)
        .await;
    assert!(refused.is_err(), "the audit is append-only");
    // Behind the API's back, with the trigger off.
    let mut tx = app.pool.begin().await.unwrap();
    for sql in [
        "ALTER TABLE contract_audit DISABLE TRIGGER contract_audit_no_update",
        "UPDATE contract_audit SET details = jsonb_set(details, '{typed_name}', '\"Someone Else\"') WHERE seq = 3",
        "ALTER TABLE contract_audit ENABLE TRIGGER contract_audit_no_update",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();

    let (_, audit) = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    assert_eq!(audit["chain"]["valid"], false, "{audit}");
    assert_eq!(audit["chain"]["broken_at"], 3);
    assert_eq!(audit["verified"], false);
    // A seal made with a key that is not the platform's is not trusted,
    // however well it verifies.
    let foreign = shared::domain::contracts::seal::SealKey::parse(
        &shared::domain::contracts::seal::SealKey::generate(),
    )
    .unwrap();
    let resealed = foreign.seal(&shared::domain::contracts::seal::SealSubject {
        contract_id: id.parse().unwrap(),
        version: 1,
        content_sha256: contract["content_sha256"].as_str().unwrap(),
        audit_seq: 4,
        audit_head: audit["entries"][3]["hash"].as_str().unwrap(),
    });
    assert!(resealed.verifies(id.parse().unwrap()));
    sqlx::query("UPDATE contracts SET seal = $1 WHERE id = $2")
        .bind(sqlx::types::Json(&resealed))
        .bind(uuid::Uuid::parse_str(id).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, resealed_audit) = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    assert_eq!(resealed_audit["seal_valid"], false, "{resealed_audit}");
    let found: Value = app
        .get(&format!(
            "/api/v1/contract-verifications/{}",
            contract["content_sha256"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["matches"][0]["chain_valid"], false, "{found}");
}

#[tokio::test]
async fn races_one_live_contract_per_booking_and_one_send() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Raced").await;
    let template = starter_template(&app, &p).await;
    let path = format!("/api/v1/bookings/{booking}/contracts");
    let body = json!({"template_id": template, "signers": signers()});
    let (a, b) = tokio::join!(
        p.agency.send(&app, Method::POST, &path, Some(body.clone())),
        p.agency.send(&app, Method::POST, &path, Some(body.clone())),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let conflict = if a.0 == 409 { &a.1 } else { &b.1 };
    assert_eq!(conflict["code"], "contract_already_exists");
    let contract = if a.0 == 201 { a.1 } else { b.1 };
    let send = format!(
        "/api/v1/contracts/{}/send",
        contract["id"].as_str().unwrap()
    );
    let (a, b) = tokio::join!(
        p.agency.send(&app, Method::POST, &send, None),
        p.agency.send(&app, Method::POST, &send, None),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (_, audit) = p
        .agency
        .get(
            &app,
            &format!(
                "/api/v1/contracts/{}/audit",
                contract["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        audit["entries"].as_array().unwrap().len(),
        2,
        "one sent entry"
    );
    assert_eq!(audit["chain"]["valid"], true);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Careful").await;
    let contract = sent_contract(&app, &p, &booking).await;
    let id = contract["id"].as_str().unwrap();
    let before = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}"))
        .await
        .1;
    let sign_path = format!(
        "/api/v1/contracts/{id}/signers/{}/sign",
        signer(&contract, "promoter")
    );
    let cases = [
        (
            &p.promoter,
            sign_path.clone(),
            json!({"typed_name": "Pia", "consent_statement": "ok", "content_sha256": contract["content_sha256"]}),
            422,
        ),
        (
            &p.promoter,
            sign_path.clone(),
            json!({"typed_name": " ", "consent_statement": contract["consent_statement"], "content_sha256": contract["content_sha256"]}),
            422,
        ),
        (
            &p.promoter,
            sign_path.clone(),
            json!({"typed_name": "Pia", "consent_statement": contract["consent_statement"], "content_sha256": "xyz"}),
            422,
        ),
        (
            &p.promoter,
            sign_path.clone(),
            json!({"typed_name": "Pia"}),
            422,
        ),
        (
            &p.agency,
            format!("/api/v1/contracts/{id}/void"),
            json!({"reason": ""}),
            422,
        ),
        (
            &p.agency,
            format!("/api/v1/contracts/{id}/signers"),
            json!({"name": "Late", "email": "late@x.test", "party": "agency"}),
            409,
        ),
        (
            &p.agency,
            format!("/api/v1/contracts/{id}/signers"),
            json!({"name": "Bad", "email": "not-an-email", "party": "agency"}),
            422,
        ),
        (
            &p.agency,
            format!("/api/v1/contracts/{id}/attachments"),
            json!({"name": "Rider", "url": "ftp://x", "media_type": "pdf", "sha256": "nope"}),
            422,
        ),
        (
            &p.agency,
            format!("/api/v1/bookings/{booking}/contracts"),
            json!({"template_id": uuid::Uuid::now_v7()}),
            422,
        ),
        (
            &p.agency,
            format!("/api/v1/contracts/{id}/versions"),
            json!({"body": "   "}),
            422,
        ),
    ];
    for (org, path, body, want) in cases {
        let (status, answer) = org
            .send(&app, Method::POST, &path, Some(body.clone()))
            .await;
        assert_eq!(status, want, "{path} {body}: {answer}");
        assert!(answer["code"].is_string(), "problem+json: {answer}");
    }
    let response = p
        .agency
        .req(
            &app,
            Method::GET,
            &format!("/api/v1/contracts/{id}/document?format=docx"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .get("/api/v1/contract-verifications/not-a-hash")
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_path").await;
    let after = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}"))
        .await
        .1;
    assert_eq!(before, after, "nothing changed");
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM contract_audit")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(entries, 2, "created and sent only");

    // A contract is made for a confirmed booking only.
    let cancel = format!("/api/v1/bookings/{booking}/cancel");
    let void = format!("/api/v1/contracts/{id}/void");
    let (status, _) = p
        .agency
        .send(
            &app,
            Method::POST,
            &void,
            Some(json!({"reason": "rebooking"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = p
        .agency
        .send(
            &app,
            Method::POST,
            &cancel,
            Some(json!({"reason": "storm"})),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/api/v1/bookings/{booking}/contracts");
    let body = json!({"template_id": contract["template_id"]});
    let (status, answer) = p.agency.send(&app, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["code"], "booking_not_confirmed");
}

/// Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
/// under the base64 secret after `whsec_`, checked with the `hmac` crate.
fn webhook_signature_ok(headers: &reqwest::header::HeaderMap, body: &[u8], secret: &str) -> bool {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", value("webhook-id"), value("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    value("webhook-signature").split(' ').any(|s| s == expected)
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn reminders_go_out_once_per_interval_with_two_workers_and_expiry_voids() {
    let app = TestApp::spawn().await;
    let (hooks, url) = FakeWebhooks::start().await;
    let (p, booking) = booked(&app, "Reminded").await;
    let env = [
        ("CONTRACT_REMINDER_AFTER_HOURS", "0"),
        // 3.6 seconds.
        ("CONTRACT_REMINDER_EVERY_HOURS", "0.001"),
        ("CONTRACT_REMINDER_MAX", "2"),
        ("NOTIFICATIONS_WEBHOOK_URL", url.as_str()),
        ("NOTIFICATIONS_WEBHOOK_SECRET", SECRET),
        ("WORKER_POLL_INTERVAL_MS", "200"),
    ];
    let _one = WorkerProcess::spawn(&app.db.url, &env);
    let _two = WorkerProcess::spawn(&app.db.url, &env);
    let contract = sent_contract(&app, &p, &booking).await;
    let id = contract["id"].as_str().unwrap();
    // Pile on runs of the reminder job for both workers to race on.
    let mut tx = app.pool.begin().await.unwrap();
    for n in 0..20 {
        shared::jobs::enqueue(
            &mut tx,
            &shared::jobs::ContractReminder {
                contract_id: Some(id.parse().unwrap()),
                tick: None,
            },
            shared::jobs::Schedule::now().dedupe(format!("race:{n}")),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    eventually(Duration::from_secs(30), "two reminders", || async {
        (hooks.received().len() >= 2).then_some(())
    })
    .await;
    // The signer's turn back-dated into its third interval (8 s of 3.6 s
    // ones, slot 2): the first one past the maximum is due, and a run of
    // the reminder job now must create nothing for it.
    sqlx::query("UPDATE contracts SET sent_at = now() - interval '8 seconds' WHERE id = $1::uuid")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    shared::jobs::enqueue(
        &mut tx,
        &shared::jobs::ContractReminder {
            contract_id: Some(id.parse().unwrap()),
            tick: None,
        },
        shared::jobs::Schedule::now().dedupe("past the maximum"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    wait_queue_drained(&app.pool, "contract_reminder").await;
    wait_queue_drained(&app.pool, "contract_reminder_delivery").await;
    let received = hooks.received();
    assert_eq!(
        received.len(),
        2,
        "at most CONTRACT_REMINDER_MAX, once per interval"
    );
    let mut numbers = Vec::new();
    for (headers, body) in &received {
        assert!(
            webhook_signature_ok(headers, body, SECRET),
            "signed per Standard Webhooks"
        );
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["type"], "contract.signature_reminder");
        assert_eq!(event["data"]["contract_id"], id);
        assert_eq!(
            event["data"]["signer_email"], "pia@promoter.test",
            "only the signer whose turn it is"
        );
        numbers.push(event["data"]["reminder_number"].as_i64().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2]);
    let (_, audit) = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    let reminded = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reminder_sent")
        .count();
    assert_eq!(reminded, 2);
    assert_eq!(audit["chain"]["valid"], true);

    // A contract past its expires_at is voided as expired by the same job.
    let path = format!("/api/v1/contracts/{id}/void");
    let (status, _) = p
        .agency
        .send(&app, Method::POST, &path, Some(json!({"reason": "redo"})))
        .await;
    assert_eq!(status, 200);
    let template = contract["template_id"].as_str().unwrap();
    let body = json!({"template_id": template, "signers": signers(),
                      "expires_at": Utc::now() + chrono::Duration::seconds(2)});
    let (status, expiring) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking}/contracts"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{expiring}");
    let path = format!("/api/v1/contracts/{}", expiring["id"].as_str().unwrap());
    let voided = eventually(Duration::from_secs(30), "expiry", || async {
        let (_, c) = p.agency.get(&app, &path).await;
        (c["status"] == "void").then_some(c)
    })
    .await;
    assert_eq!(voided["status_reason"], "expired");
}

#[tokio::test]
async fn cancelling_the_booking_voids_its_open_contract() {
    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Cancelled").await;
    let contract = sent_contract(&app, &p, &booking).await;
    let (status, _) = sign(&app, &p.promoter, &contract, "promoter").await;
    assert_eq!(status, 200);
    let cancel = format!("/api/v1/bookings/{booking}/cancel");
    let (status, body) = p
        .promoter
        .send(
            &app,
            Method::POST,
            &cancel,
            Some(json!({"reason": "venue closed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/api/v1/contracts/{}", contract["id"].as_str().unwrap());
    let (_, voided) = p.agency.get(&app, &path).await;
    assert_eq!(voided["status"], "void");
    assert_eq!(voided["status_reason"], "the booking was cancelled");
    let (status, body) = sign(&app, &p.agency, &contract, "agency").await;
    assert_eq!(status, 409, "{body}");
    let (_, trail) = p
        .agency
        .get(&app, &format!("/api/v1/bookings/{booking}/activity"))
        .await;
    let tail: Vec<String> = trail
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|a| {
            format!(
                "{}:{}",
                a["subject_type"].as_str().unwrap(),
                a["action"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(tail, ["contract:voided", "booking:cancelled"]);
}

/// The IP recorded with a signature is the client address: from an
/// untrusted peer a spoofed `X-Forwarded-For` is ignored; through a
/// trusted proxy (loopback here) the hop it forwarded for is recorded,
/// and the walk stops at the first untrusted hop from the right.
#[tokio::test]
async fn a_signature_records_the_client_address_not_a_spoofed_hop() {
    async fn signed_ip(app: &TestApp, contract: &Value, party: &str) -> Option<String> {
        sqlx::query_scalar(
            "SELECT s.ip FROM contract_signatures s JOIN contract_signers r ON r.id = s.signer_id
             WHERE s.contract_id = $1::uuid AND r.party = $2",
        )
        .bind(contract["id"].as_str().unwrap())
        .bind(party)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    }
    async fn sign_via(app: &TestApp, org: &Org, contract: &Value, party: &str, xff: &str) {
        let path = format!(
            "/api/v1/contracts/{}/signers/{}/sign",
            contract["id"].as_str().unwrap(),
            signer(contract, party)
        );
        let response = org
            .req(app, Method::POST, &path)
            .header("x-forwarded-for", xff)
            .header("user-agent", "signing-test/1.0")
            .json(&sign_body(contract, party))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    let app = TestApp::spawn().await;
    let (p, booking) = booked(&app, "Unproxied").await;
    let contract = sent_contract(&app, &p, &booking).await;
    sign_via(&app, &p.promoter, &contract, "promoter", "198.51.100.23").await;
    assert_eq!(
        signed_ip(&app, &contract, "promoter").await.as_deref(),
        Some("127.0.0.1")
    );
    let user_agent: Option<String> = sqlx::query_scalar(
        "SELECT user_agent FROM contract_signatures WHERE contract_id = $1::uuid",
    )
    .bind(contract["id"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(user_agent.as_deref(), Some("signing-test/1.0"));

    let app = TestApp::builder()
        .env("TRUSTED_PROXIES", "127.0.0.0/8")
        .spawn()
        .await;
    let (p, booking) = booked(&app, "Proxied").await;
    let contract = sent_contract(&app, &p, &booking).await;
    sign_via(&app, &p.promoter, &contract, "promoter", "198.51.100.23").await;
    assert_eq!(
        signed_ip(&app, &contract, "promoter").await.as_deref(),
        Some("198.51.100.23")
    );
    sign_via(
        &app,
        &p.agency,
        &contract,
        "agency",
        "198.51.100.23, 203.0.113.5",
    )
    .await;
    assert_eq!(
        signed_ip(&app, &contract, "agency").await.as_deref(),
        Some("203.0.113.5")
    );
}

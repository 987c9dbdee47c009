//! SPEC 5.12: the personal data of one subject, exported and erased; the
//! map of personal data against the schema; retention pruning; audit
//! chains and seals that survive all of it (checked by OpenSSL too), and
//! chains written before personal values were committed apart, upgraded.

use std::collections::BTreeSet;

use chrono::Utc;
use kisum_tests::{BookingParties, TestApp, internal_call, problem};
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::contracts::audit;

use crate::contracts::{booked, openssl_verifies, signer, starter_template};

const EMAIL: &str = "mira.quell@example.org";
const PHONE: &str = "+31 6 1234 5678";
const NAME: &str = "Mira Quell";

/// A booking whose contract Mira signed for the promoter (sealed), whose
/// sheet lists her as a contact and a guest, and a contact card and a
/// colleague's note that name her.
async fn mira_everywhere(app: &TestApp) -> (BookingParties, String, String) {
    let (p, booking) = booked(app, "Privacy").await;
    let (status, person) = p
        .agency
        .send(
            app,
            Method::POST,
            "/api/v1/people",
            Some(
                json!({"company_id": p.agency_company, "name": NAME, "email": EMAIL, "phone": PHONE,
                        "notes": "tour manager"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{person}");
    let (status, colleague) = p
        .agency
        .send(
            app,
            Method::POST,
            "/api/v1/people",
            Some(
                json!({"company_id": p.agency_company, "name": "Ole Colleague",
                        "notes": format!("Backs up {NAME}; reach her on {PHONE}.")}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{colleague}");
    let sheet = json!({
        "contacts": [
            {"role": "promoter_rep", "name": NAME, "email": EMAIL, "phone": PHONE},
            {"role": "other", "name": "Sam Stage", "email": "sam@venue.test"}
        ],
        "hotel": {"name": "Hotel V", "rooms": [{"room_type": "double", "count": 2, "guest_names": [NAME, "Guest Two"]}]},
        "guest_list": {"allocation": 4, "names": [NAME, "Guest Three"]},
        "technical": {"notes": format!("Ask {NAME} about the risers")}
    });
    let response = p
        .agency
        .req(
            app,
            Method::PUT,
            &format!("/api/v1/bookings/{booking}/logistics"),
        )
        .json(&sheet)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    let template = starter_template(app, &p).await;
    let body = json!({"template_id": template, "title": "Privacy show", "signers": [
        {"name": NAME, "email": EMAIL, "party": "promoter"},
        {"name": "Aga Agent", "email": "aga@agency.test", "party": "agency"},
    ]});
    let (status, contract) = p
        .agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/bookings/{booking}/contracts"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{contract}");
    let id = contract["id"].as_str().unwrap().to_owned();
    let (status, contract) = p
        .agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/contracts/{id}/send"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{contract}");
    for (org, party, typed) in [
        (&p.promoter, "promoter", NAME),
        (&p.agency, "agency", "Aga Agent"),
    ] {
        let path = format!(
            "/api/v1/contracts/{id}/signers/{}/sign",
            signer(&contract, party)
        );
        let body = json!({"typed_name": typed, "consent_statement": contract["consent_statement"],
                          "content_sha256": contract["content_sha256"]});
        let (status, signed) = org.send(app, Method::POST, &path, Some(body)).await;
        assert_eq!(status, 200, "{signed}");
    }
    (p, booking, id)
}

/// The whole database as `pg_dump` writes it.
fn dump(url: &str) -> String {
    let out = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", url])
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the random token of the dump's `\restrict` lines.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tables (`COPY` blocks) of a dump whose rows contain `needle`, any case.
fn tables_holding(dump: &str, needle: &str) -> BTreeSet<String> {
    let needle = needle.to_lowercase();
    let mut table = None;
    let mut found = BTreeSet::new();
    for line in dump.lines() {
        if let Some(rest) = line.strip_prefix("COPY ") {
            table = rest.split_whitespace().next().map(str::to_owned);
        } else if line == "\\." {
            table = None;
        } else if line.to_lowercase().contains(&needle) {
            found.insert(
                table
                    .clone()
                    .unwrap_or_else(|| format!("(outside data) {line}")),
            );
        }
    }
    found
}

/// The contract's audit as a party reads it: verified, and its seal checked
/// by OpenSSL.
async fn assert_audit_verifies(app: &TestApp, p: &BookingParties, id: &str) -> Value {
    let (status, audit) = p
        .agency
        .get(app, &format!("/api/v1/contracts/{id}/audit"))
        .await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["chain"]["valid"], true, "{audit}");
    assert_eq!(audit["seal_valid"], true, "{audit}");
    assert_eq!(audit["verified"], true, "{audit}");
    let keys: Value = app
        .get("/api/v1/contract-signing-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pem = keys["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["key_id"] == audit["seal"]["key_id"]))
        .map(|k| k["public_key_pem"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("the seal's key is published: {keys}"));
    assert!(openssl_verifies(
        &pem,
        audit["seal"]["message"].as_str().unwrap(),
        audit["seal"]["signature"].as_str().unwrap()
    ));
    audit
}

#[tokio::test]
async fn export_then_erasure_leaves_the_subject_only_in_the_signed_document() {
    let app = TestApp::spawn().await;
    let (p, booking, contract) = mira_everywhere(&app).await;

    // The audit holds her values beside the chain, not in it.
    let audit = assert_audit_verifies(&app, &p, &contract).await;
    let signed = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "signed")
        .unwrap();
    assert!(
        signed["details"]["typed_name"]["$personal"].is_string(),
        "{signed}"
    );
    assert!(!signed["details"].to_string().contains(NAME));
    assert!(
        signed["personal"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["value"] == NAME)
    );

    // Export: every area that holds her, in pages that add up.
    let path = format!("/internal/privacy/subjects?email={}", EMAIL.to_uppercase());
    let (status, export) = internal_call(&app, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{export}");
    assert!(export["next_cursor"].is_null());
    let records = export["records"].as_array().unwrap().clone();
    let tables: BTreeSet<&str> = records
        .iter()
        .map(|r| r["table"].as_str().unwrap())
        .collect();
    for table in [
        "people",
        "contract_signers",
        "contract_audit_personal",
        "booking_logistics",
    ] {
        assert!(tables.contains(table), "{table} missing from {tables:?}");
    }
    assert!(
        export["identifiers"]["phones"]
            .as_array()
            .unwrap()
            .contains(&json!(PHONE))
    );
    let colleague_note = records.iter().any(|r| {
        r["table"] == "people"
            && r["data"]["notes"]
                .as_str()
                .is_some_and(|n| n.contains("Backs up"))
    });
    assert!(colleague_note, "free text naming her is found: {export}");
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/internal/privacy/subjects?email={EMAIL}&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = internal_call(&app, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["records"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, records);

    // Bad requests change nothing.
    let (status, _) = internal_call(&app, Method::GET, "/internal/privacy/subjects", None).await;
    assert_eq!(status, 422);
    let response = app
        .internal(Method::POST, "/internal/privacy/erasures")
        .json(&json!({"email": "not-an-address", "reason": "x"}))
        .send()
        .await
        .unwrap();
    problem(response, 422, "validation_failed").await;
    let response = app
        .post("/internal/privacy/erasures")
        .json(&json!({"email": EMAIL, "reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Erasure.
    let request = json!({"email": EMAIL, "reason": "Art. 17 request #4711"});
    let (status, erasure) = internal_call(
        &app,
        Method::POST,
        "/internal/privacy/erasures",
        Some(&request),
    )
    .await;
    assert_eq!(status, 201, "{erasure}");
    assert!(
        erasure["subject"]
            .as_str()
            .unwrap()
            .starts_with("email-sha256:")
    );
    assert!(
        !erasure.to_string().to_lowercase().contains("mira"),
        "{erasure}"
    );
    assert!(
        erasure["erased"]["contract_audit_personal.value"]
            .as_u64()
            .unwrap()
            >= 3,
        "{erasure}"
    );
    assert!(
        erasure["retained"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["table"] == "contract_signers")
    );

    // The dump holds her email and phone nowhere, her name only where the
    // signed document needs it.
    let after = dump(&app.db.url);
    assert_eq!(tables_holding(&after, EMAIL), BTreeSet::new());
    assert_eq!(tables_holding(&after, PHONE), BTreeSet::new());
    let signed_document: BTreeSet<String> = [
        "public.contract_signers",
        "public.contract_signatures",
        "public.contract_versions",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let holding_name = tables_holding(&after, NAME);
    assert!(holding_name.is_subset(&signed_document), "{holding_name:?}");
    assert!(
        holding_name.contains("public.contract_signatures"),
        "{holding_name:?}"
    );

    // Everyone else is untouched.
    let (_, sheet) = p
        .agency
        .get(&app, &format!("/api/v1/bookings/{booking}/logistics"))
        .await;
    let sheet = &sheet["sheet"];
    assert_eq!(sheet["contacts"].as_array().unwrap().len(), 1, "{sheet}");
    assert_eq!(sheet["contacts"][0]["name"], "Sam Stage");
    assert_eq!(sheet["guest_list"]["names"], json!(["Guest Three"]));
    assert_eq!(
        sheet["hotel"]["rooms"][0]["guest_names"],
        json!(["Guest Two"])
    );
    assert_eq!(sheet["technical"]["notes"], "Ask [erased] about the risers");

    // The chain and seal verify as before; the values are gone from it.
    let audit = assert_audit_verifies(&app, &p, &contract).await;
    let signed = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "signed" && e["seq"] == signed["seq"])
        .unwrap();
    assert!(signed["details"]["typed_name"]["$personal"].is_string());
    assert!(!signed["personal"].to_string().contains(NAME), "{signed}");
    assert!(!signed["personal"].to_string().contains("user_agent"));
    // And the verification route still vouches for the signed text.
    let (_, versions) = p
        .agency
        .get(&app, &format!("/api/v1/contracts/{contract}/versions"))
        .await;
    let sha = versions[0]["content_sha256"].as_str().unwrap();
    let verified: Value = app
        .get(&format!("/api/v1/contract-verifications/{sha}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["matches"][0]["chain_valid"], true, "{verified}");
    assert_eq!(verified["matches"][0]["seal_valid"], true, "{verified}");
    assert_eq!(verified["matches"][0]["signatures"][0]["typed_name"], NAME);

    // Twice is a no-op: the first record answers and nothing changes.
    let (status, again) = internal_call(
        &app,
        Method::POST,
        "/internal/privacy/erasures",
        Some(&request),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], erasure["id"]);
    let again_dump = dump(&app.db.url);
    let changed: Vec<&str> = again_dump
        .lines()
        .filter(|l| !after.lines().any(|a| a == *l))
        .collect();
    assert!(
        changed.is_empty(),
        "a repeated erasure changed: {changed:?}"
    );
    let (status, export) = internal_call(
        &app,
        Method::GET,
        &format!("/internal/privacy/subjects?email={EMAIL}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(export["records"], json!([]), "{export}");
}

#[tokio::test]
async fn erasure_by_person_id_and_of_an_unknown_subject() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Person Agency", "Person Artist", &[]).await;
    let (_, person) = p
        .agency
        .send(
            &app,
            Method::POST,
            "/api/v1/people",
            Some(json!({"company_id": p.agency_company, "name": "Noor Vale", "phone": "+44 20 7946 0000"})),
        )
        .await;
    let id = person["id"].as_str().unwrap();
    let (status, export) = internal_call(
        &app,
        Method::GET,
        &format!("/internal/privacy/subjects?person_id={id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["records"].as_array().unwrap().len(), 1, "{export}");
    let request = json!({"person_id": id, "reason": "left the industry"});
    let (status, erasure) = internal_call(
        &app,
        Method::POST,
        "/internal/privacy/erasures",
        Some(&request),
    )
    .await;
    assert_eq!(status, 201, "{erasure}");
    assert_eq!(erasure["subject"], format!("person:{id}"));
    let (_, card) = p.agency.get(&app, &format!("/api/v1/people/{id}")).await;
    assert_eq!(card["name"], "Erased contact");
    assert!(card["phone"].is_null());
    let (status, _) = internal_call(
        &app,
        Method::POST,
        "/internal/privacy/erasures",
        Some(&request),
    )
    .await;
    assert_eq!(status, 200);

    // Nothing held, nothing written; an unknown person is 404.
    let request = json!({"email": "nobody@example.org", "reason": "check"});
    let (status, none) = internal_call(
        &app,
        Method::POST,
        "/internal/privacy/erasures",
        Some(&request),
    )
    .await;
    assert_eq!((status, none), (200, Value::Null));
    let request = json!({"person_id": uuid::Uuid::now_v7(), "reason": "check"});
    let (status, _) = internal_call(
        &app,
        Method::POST,
        "/internal/privacy/erasures",
        Some(&request),
    )
    .await;
    assert_eq!(status, 404);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM privacy_erasures")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

/// Rewrites a contract's chain as it was stored before personal values
/// were committed apart (format 1: values inline, hashed with them), and
/// seals it as the platform then did.
async fn make_legacy(app: &TestApp, contract: &str) -> String {
    let id: uuid::Uuid = contract.parse().unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    let entries = audit::entries(&mut tx, id).await.unwrap();
    sqlx::query("ALTER TABLE contract_audit DISABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut prev = audit::GENESIS.to_owned();
    let mut heads = Vec::new();
    for e in &entries {
        let details = audit::reveal(&e.details, &e.personal);
        let hash = audit::entry_hash(
            id,
            e.seq,
            e.at,
            &e.actor,
            e.org_id,
            &e.action,
            e.from_status.as_deref(),
            e.to_status.as_deref(),
            &details,
            &prev,
        );
        sqlx::query(
            "UPDATE contract_audit SET details = $3, prev_hash = $4, hash = $5, format = 1
              WHERE contract_id = $1 AND seq = $2",
        )
        .bind(id)
        .bind(e.seq)
        .bind(&details)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .unwrap();
        heads.push(hash.clone());
        prev = hash;
    }
    sqlx::query("ALTER TABLE contract_audit ENABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("DELETE FROM contract_audit_personal WHERE contract_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let (seal,): (Value,) = sqlx::query_as("SELECT seal FROM contracts WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let seq = seal["audit_seq"].as_i64().unwrap();
    let key = shared::domain::contracts::seal::SealKey::parse(kisum_tests::SEAL_KEY).unwrap();
    let head = heads[usize::try_from(seq - 1).unwrap()].clone();
    let legacy = key.seal(&shared::domain::contracts::seal::SealSubject {
        contract_id: id,
        version: i32::try_from(seal["version"].as_i64().unwrap()).unwrap(),
        content_sha256: seal["content_sha256"].as_str().unwrap(),
        audit_seq: i32::try_from(seq).unwrap(),
        audit_head: &head,
    });
    sqlx::query("UPDATE contracts SET seal = $2 WHERE id = $1")
        .bind(id)
        .bind(serde_json::to_value(&legacy).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    prev
}

#[tokio::test]
async fn chains_written_before_are_upgraded_and_resealed_then_erasable() {
    let app = TestApp::spawn().await;
    let (p, _, contract) = mira_everywhere(&app).await;
    let legacy_head = make_legacy(&app, &contract).await;

    // A format-1 chain verifies as it always did, values inline.
    let audit = assert_audit_verifies(&app, &p, &contract).await;
    assert!(audit.to_string().contains(EMAIL));
    let before: Vec<Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"].clone())
        .collect();

    // Another API process starting on the database upgrades it.
    let _second = TestApp::builder()
        .database(kisum_tests::TestDb::existing(&app.db.url))
        .spawn()
        .await;
    kisum_tests::eventually(
        std::time::Duration::from_secs(30),
        "the chain upgraded",
        || async {
            let left: i64 =
                sqlx::query_scalar("SELECT count(*) FROM contract_audit WHERE format = 1")
                    .fetch_one(&app.pool)
                    .await
                    .unwrap();
            (left == 0).then_some(())
        },
    )
    .await;
    let audit = assert_audit_verifies(&app, &p, &contract).await;
    let entries = audit["entries"].as_array().unwrap();
    let upgraded = entries.last().unwrap();
    assert_eq!(upgraded["action"], "audit_upgraded", "{upgraded}");
    assert_eq!(upgraded["details"]["previous_head"], legacy_head.as_str());
    // Every entry reads as before, its values now beside the chain.
    for (e, old) in entries.iter().zip(&before) {
        let personal: Vec<audit::PersonalValue> = e["personal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| audit::PersonalValue {
                digest: v["digest"].as_str().unwrap().to_owned(),
                salt: v["salt"].as_str().unwrap().to_owned(),
                value: v["value"].clone(),
            })
            .collect();
        assert_eq!(&audit::reveal(&e["details"], &personal), old);
    }

    // And erasing her leaves it valid.
    let request = json!({"email": EMAIL, "reason": "Art. 17"});
    let (status, _) = internal_call(
        &app,
        Method::POST,
        "/internal/privacy/erasures",
        Some(&request),
    )
    .await;
    assert_eq!(status, 201);
    let audit = assert_audit_verifies(&app, &p, &contract).await;
    assert!(!audit.to_string().contains(EMAIL));
}

#[tokio::test]
async fn retention_prunes_signature_evidence_and_cancelled_deals() {
    let app = TestApp::spawn().await;
    let (p, booking, contract) = mira_everywhere(&app).await;
    let policy = shared::privacy::retention::RetentionPolicy::default();
    let mut conn = app.pool.acquire().await.unwrap();

    // Nothing is due today.
    let today = shared::privacy::retention::prune(&mut conn, policy, Utc::now())
        .await
        .unwrap();
    assert_eq!(today, Default::default());

    // Past the evidence period: IP and user agent go, from the signature
    // and from the audit; the typed signature stays.
    let later = Utc::now() + chrono::Duration::days(1096);
    let pruned = shared::privacy::retention::prune(&mut conn, policy, later)
        .await
        .unwrap();
    assert_eq!(pruned.signatures, 2, "{pruned:?}");
    assert!(pruned.audit_values >= 2, "{pruned:?}");
    let evidence: Vec<(Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT ip, user_agent, typed_name FROM contract_signatures WHERE contract_id = $1::uuid",
    )
    .bind(&contract)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(
        evidence
            .iter()
            .all(|(ip, ua, name)| ip.is_none() && ua.is_none() && !name.is_empty())
    );
    let audit = assert_audit_verifies(&app, &p, &contract).await;
    assert!(
        !audit["entries"].to_string().contains("reqwest"),
        "the user agent is gone"
    );
    assert_eq!(
        shared::privacy::retention::prune(&mut conn, policy, later)
            .await
            .unwrap(),
        Default::default(),
        "a second run finds nothing"
    );

    // A cancelled booking, a year on, loses its people.
    let (status, cancelled) = p
        .agency
        .send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{booking}/cancel"),
            Some(json!({"reason": "venue closed"})),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let pruned = shared::privacy::retention::prune(
        &mut conn,
        policy,
        Utc::now() + chrono::Duration::days(366),
    )
    .await
    .unwrap();
    assert_eq!(pruned.cancelled_bookings, 1, "{pruned:?}");
    let (_, sheet) = p
        .agency
        .get(&app, &format!("/api/v1/bookings/{booking}/logistics"))
        .await;
    assert_eq!(sheet["sheet"]["contacts"], json!([]), "{sheet}");
    assert_eq!(sheet["sheet"]["guest_list"]["names"], json!([]));
    // Its sealed contract is kept for claims, its chain intact.
    assert_audit_verifies(&app, &p, &contract).await;
}

/// Every column whose name is of a personal kind (name, email, phone, IP,
/// user agent, address, guest) is in the map, as personal or not.
#[tokio::test]
async fn every_personal_column_is_mapped() {
    let db = kisum_tests::TestDb::migrated().await;
    let pool = db.pool().await;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND a.attnum > 0 AND NOT a.attisdropped AND c.relname NOT LIKE '%\\_legacy'
          ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let unmapped: Vec<String> = columns
        .iter()
        .filter(|(_, column)| shared::privacy::map::is_personal_kind(column))
        .filter(|(table, column)| !shared::privacy::map::mentions(table, column))
        .map(|(t, c)| format!("{t}.{c}"))
        .collect();
    assert!(
        unmapped.is_empty(),
        "not in shared::privacy::map: {unmapped:?}"
    );
    // And the map names only columns that exist.
    for l in shared::privacy::map::PERSONAL_DATA {
        assert!(
            columns.iter().any(|(t, c)| t == l.table && c == l.column),
            "{}.{} is mapped but does not exist",
            l.table,
            l.column
        );
    }
}

//! The restore drill: a point-in-time recovery with Postgres's own tools,
//! the procedure `deploy/restore.md` runs on CloudNativePG. A private
//! server archives every WAL segment into a directory; the API writes a
//! confirmed booking with a signed contract; `pg_basebackup` takes a base
//! backup; the API writes batch A; the server's clock gives the recovery
//! target; the API writes batch B. A new server made from the base backup
//! replays the archive up to the target and promotes: it holds exactly what
//! was committed before the target (batch A, none of batch B, counted by
//! ids), every contract's audit chain verifies, and the API serves it.
//! Both servers and every directory go when the test ends, passed or not.

use std::path::Path;
use std::time::{Duration, Instant};

use kisum_tests::processes::{PgServer, ScratchDir};
use kisum_tests::{Org, TestApp, TestDb};
use reqwest::Method;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::contracts::{booked, sent_contract, sign};

/// The drill's database, on each server.
const DATABASE: &str = "kisum_drill";

/// Shortlists a batch makes, besides its booking and contract.
const SHORTLISTS: usize = 3;

/// What one batch wrote through the API.
struct Batch {
    label: &'static str,
    agency: Org,
    booking: Uuid,
    contract: Uuid,
    shortlists: Vec<Uuid>,
}

fn uuid(value: &serde_json::Value) -> Uuid {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a UUID: {value}"))
}

/// A confirmed booking, its contract signed by both parties, and a few
/// shortlists, all through the API.
async fn write_batch(app: &TestApp, label: &'static str) -> Batch {
    let (p, booking) = booked(app, label).await;
    let contract = sent_contract(app, &p, &booking).await;
    let (status, body) = sign(app, &p.promoter, &contract, "promoter").await;
    assert_eq!(status, 200, "{body}");
    let (status, signed) = sign(app, &p.agency, &contract, "agency").await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["status"], "signed", "{signed}");
    let mut shortlists = Vec::new();
    for n in 1..=SHORTLISTS {
        let body = json!({"name": format!("{label} shortlist {n}")});
        let (status, list) = p
            .agency
            .send(app, Method::POST, "/api/v1/shortlists", Some(body))
            .await;
        assert_eq!(status, 201, "{list}");
        shortlists.push(uuid(&list["id"]));
    }
    Batch {
        label,
        booking: booking.parse().unwrap(),
        contract: uuid(&contract["id"]),
        agency: p.agency,
        shortlists,
    }
}

/// Which of `ids` are rows of `table`, and how many rows it has.
async fn rows(conn: &mut PgConnection, table: &str, ids: &[Uuid]) -> (Vec<Uuid>, i64) {
    let mut present: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {table} WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    present.sort();
    let total: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    (present, total)
}

/// For each table, the ids `batches` wrote to it.
fn ids_by_table(batches: &[&Batch]) -> [(&'static str, Vec<Uuid>); 3] {
    [
        ("bookings", batches.iter().map(|b| b.booking).collect()),
        ("contracts", batches.iter().map(|b| b.contract).collect()),
        (
            "shortlists",
            batches.iter().flat_map(|b| b.shortlists.clone()).collect(),
        ),
    ]
}

/// The WAL segment `pg_switch_wal()` just completed: for the archive to
/// hold everything written so far, this one must be archived.
async fn switch_wal(conn: &mut PgConnection) -> String {
    sqlx::query_scalar("SELECT pg_walfile_name(pg_switch_wal())")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Polls until the archiver has archived `segment` (and it is in
/// `archive`), or fails with the archiver's state and the server's log.
async fn wait_archived(server: &PgServer, conn: &mut PgConnection, archive: &Path, segment: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (last, failed): (Option<String>, i64) =
            sqlx::query_as("SELECT last_archived_wal, failed_count FROM pg_stat_archiver")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        if last.as_deref().is_some_and(|l| l >= segment) && archive.join(segment).exists() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "WAL segment {segment} is not archived (last archived {last:?}, {failed} failures)\n\
             --- server log\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the restored server has reached its target and promoted
/// (`pg_is_in_recovery()` is false), or fails with its log.
async fn wait_promoted(server: &PgServer) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(mut conn) = PgConnection::connect(&server.url("postgres")).await {
            let in_recovery: Option<bool> = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                .fetch_one(&mut conn)
                .await
                .ok();
            if in_recovery == Some(false) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the restored server did not leave recovery\n--- server log\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_point_in_time_recovery_keeps_exactly_the_writes_before_the_target() {
    let drill = Instant::now();
    // Declared first, dropped last: the servers stop before their files go.
    let scratch = ScratchDir::new("kisum-pitr");
    let archive = scratch.subdir("archive");
    let archive_dir = archive.display().to_string();
    let archive_command = format!("test ! -f {archive_dir}/%f && cp %p {archive_dir}/%f");
    let source = PgServer::start_with(&[
        ("wal_level", "replica"),
        ("archive_mode", "on"),
        ("archive_command", archive_command.as_str()),
    ])
    .await;
    let url = source.migrated_database(DATABASE).await;
    let app = TestApp::builder()
        .database(TestDb::existing(&url))
        .spawn()
        .await;
    let mut conn = PgConnection::connect(&url).await.unwrap();

    let base = write_batch(&app, "Before backup").await;
    let backup = scratch.path.join("backup");
    let started = Instant::now();
    source.base_backup(&backup);
    let backup_took = started.elapsed();
    let backup_bytes = std::fs::metadata(backup.join("base.tar")).unwrap().len();

    let a = write_batch(&app, "Batch A").await;
    switch_wal(&mut conn).await;
    let target: String = sqlx::query_scalar("SELECT now()::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let b = write_batch(&app, "Batch B").await;
    let last_segment = switch_wal(&mut conn).await;
    wait_archived(&source, &mut conn, &archive, &last_segment).await;
    // The source holds all three batches.
    for (table, ids) in ids_by_table(&[&base, &a, &b]) {
        let (present, total) = rows(&mut conn, table, &ids).await;
        assert_eq!(present.len(), ids.len(), "{table} on the source");
        assert_eq!(
            total,
            i64::try_from(ids.len()).unwrap(),
            "{table} on the source"
        );
    }
    conn.close().await.unwrap();
    // The source is gone; only the backup and the archive are left.
    source.stop();
    drop(app);
    let segments = std::fs::read_dir(&archive).unwrap().count();

    let started = Instant::now();
    let restore_command = format!("cp {archive_dir}/%f %p");
    let restored = PgServer::restore(
        &backup,
        &[
            ("restore_command", restore_command.as_str()),
            ("recovery_target_time", target.as_str()),
            ("recovery_target_action", "promote"),
            // The restored server must not archive into the source's archive.
            ("archive_mode", "off"),
        ],
    )
    .await;
    wait_promoted(&restored).await;
    let restore_took = started.elapsed();
    let log = restored.log();
    let stopped_at = log
        .lines()
        .find(|l| l.contains("recovery stopping before commit of transaction"))
        .unwrap_or_else(|| {
            panic!("recovery stopped at the target, not at the end of the WAL\n{log}")
        });
    assert!(log.contains("selected new timeline ID: 2"), "{log}");

    // Exactly what was committed before the target: the backup's batch and
    // batch A, by id and in total; nothing of batch B.
    let restored_url = restored.url(DATABASE);
    let mut conn = PgConnection::connect(&restored_url).await.unwrap();
    let mut counts = Vec::new();
    for ((table, kept), (_, lost)) in ids_by_table(&[&base, &a])
        .into_iter()
        .zip(ids_by_table(&[&b]))
    {
        let mut all = kept.clone();
        all.extend(&lost);
        let (present, total) = rows(&mut conn, table, &all).await;
        let mut expected = kept.clone();
        expected.sort();
        assert_eq!(
            present, expected,
            "{table}: the writes before the target, none after"
        );
        assert_eq!(
            total,
            i64::try_from(kept.len()).unwrap(),
            "{table}: nothing else"
        );
        counts.push(format!("{table} {total} (lost {})", lost.len()));
    }

    // Every contract's audit chain recomputes, hash by hash.
    let contracts: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM contracts ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut entries = 0;
    for contract in &contracts {
        let trail = shared::domain::contracts::audit::entries(&mut conn, *contract)
            .await
            .unwrap();
        let check = shared::domain::contracts::audit::verify(*contract, &trail);
        assert!(check.valid, "contract {contract}: {check:?}");
        assert_eq!(
            trail.len(),
            4,
            "created, sent and two signatures: {trail:?}"
        );
        entries += trail.len();
    }
    conn.close().await.unwrap();

    // The API, switched over to the restored server, serves it: ready, the
    // contracts' audits verified with their seals, batch B's unknown.
    let app = TestApp::builder()
        .database(TestDb::existing(&restored_url))
        .spawn()
        .await;
    let ready = app.get("/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    for batch in [&base, &a] {
        let path = format!("/api/v1/contracts/{}/audit", batch.contract);
        let (status, audit) = batch.agency.get(&app, &path).await;
        assert_eq!(status, 200, "{}: {audit}", batch.label);
        assert_eq!(audit["chain"]["valid"], true, "{}: {audit}", batch.label);
        assert_eq!(audit["seal_valid"], true, "{}: {audit}", batch.label);
        assert_eq!(audit["verified"], true, "{}: {audit}", batch.label);
    }
    let path = format!("/api/v1/contracts/{}/audit", b.contract);
    let (status, _) = b.agency.get(&app, &path).await;
    assert_eq!(status, 404, "{}: written after the target", b.label);

    println!(
        "restore drill: base backup {backup_took:?} ({backup_bytes} bytes), {segments} files in the WAL \
         archive; restored to {target} and promoted in {restore_took:?}; {}; \
         {} contracts, {entries} audit entries verified; {:?} in all\n{}",
        counts.join(", "),
        contracts.len(),
        drill.elapsed(),
        stopped_at.trim()
    );
}

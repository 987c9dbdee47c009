//! A landed migration is never edited (STYLE.md): databases that already
//! ran it would refuse to start, or silently differ from new ones.
//! `migrations/checksums.sha256` lists every migration file with the SHA-256
//! of its bytes, in `sha256sum` format. This test fails when a listed file
//! changed or disappeared, and when a migration file is not listed. Adding
//! the line of a new migration is the only edit the list allows:
//! `cd migrations && sha256sum <file>.sql >> checksums.sha256`.
//!
//! Plain SHA-256 of the file's bytes rather than sqlx's own checksum
//! (SHA-384 of the SQL text): `sha256sum -c checksums.sha256` checks it
//! without a build, any changed byte shows (sqlx can be told to ignore
//! whitespace), and it does not move when sqlx changes its checksum rules.
//! That the compiled migrator holds exactly these files is checked too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The listed files and their digests, in file order.
fn listed(dir: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("checksums.sha256"))
        .expect("migrations/checksums.sha256 is committed");
    let mut lines = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let (digest, file) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("checksums.sha256 line {}: `<sha256>  <file>`", number + 1));
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "checksums.sha256 line {}: {digest:?} is not a SHA-256",
            number + 1
        );
        let previous = lines.insert(file.to_owned(), digest.to_ascii_lowercase());
        assert!(previous.is_none(), "{file} is listed twice");
    }
    lines
}

/// What sqlx treats as a migration: `<version>_<description>.sql`.
fn migration_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.split_once('_')
                .is_some_and(|(_, rest)| rest.ends_with(".sql"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn landed_migrations_are_never_edited() {
    let dir = migrations_dir();
    let listed = listed(&dir);
    let files = migration_files(&dir);
    let mut problems = Vec::new();
    for (file, digest) in &listed {
        match std::fs::read(dir.join(file)) {
            Err(_) => problems.push(format!(
                "{file} is listed but gone: a landed migration is never removed"
            )),
            Ok(bytes) => {
                let actual = hex(&Sha256::digest(&bytes));
                if &actual != digest {
                    problems.push(format!(
                        "{file} changed (SHA-256 {actual}, listed {digest}): a landed migration \
                         is never edited; put the change in a new migration"
                    ));
                }
            }
        }
    }
    for file in files.iter().filter(|f| !listed.contains_key(*f)) {
        problems.push(format!(
            "{file} is not listed: add its line with \
             `cd migrations && sha256sum {file} >> checksums.sha256`"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The migrator compiled into the binaries is made of exactly these files.
    let versions: Vec<i64> = files
        .iter()
        .map(|f| f.split_once('_').unwrap().0.parse().unwrap())
        .collect();
    let compiled: Vec<i64> = shared::db::MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(
        compiled, versions,
        "shared::db::MIGRATOR is built from the files in migrations/"
    );
}

/// The values a status enum is written and read as: its OpenAPI schema's
/// `enum` (serde's names), each of which must decode through sqlx too, so
/// both namings of the enum are compared with the database.
fn enum_values<T: utoipa::PartialSchema>() -> Vec<String> {
    let schema = serde_json::to_value(T::schema()).unwrap();
    let mut values: Vec<String> = schema["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema} is not a string enum"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    values.sort();
    values
}

/// The values a `CHECK (column IN (...))` allows, as Postgres keeps it
/// (`CHECK ((status = ANY (ARRAY['a'::text, ...])))`); `None` for any other
/// constraint.
fn allowed_values(column: &str, definition: &str) -> Option<Vec<String>> {
    let rest = definition.strip_prefix(&format!("CHECK (({column} = ANY (ARRAY["))?;
    let list = rest.strip_suffix("])))")?;
    let mut values: Vec<String> = list
        .split(", ")
        .map(|v| {
            v.strip_suffix("::text")
                .and_then(|v| v.strip_prefix('\''))
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or_else(|| panic!("{definition}: unexpected element {v}"))
                .to_owned()
        })
        .collect();
    values.sort();
    Some(values)
}

/// Compares one enum with its column's CHECK; returns the problem, if any.
/// `null_means` is the enum's value a NULL column reads as (Finance's
/// `not_reported`): it is no value of the column.
async fn compare<T>(
    pool: &sqlx::PgPool,
    checks: &BTreeMap<(String, String), Vec<String>>,
    table: &str,
    column: &str,
    null_means: Option<&str>,
) -> Option<String>
where
    T: utoipa::PartialSchema
        + sqlx::Type<sqlx::Postgres>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + Send
        + Unpin,
{
    let key = (table.to_owned(), column.to_owned());
    let Some(allowed) = checks.get(&key) else {
        return Some(format!("{table}.{column} has no CHECK listing its values"));
    };
    let values = enum_values::<T>();
    for value in &values {
        let decoded = sqlx::query_scalar::<_, T>("SELECT $1::text")
            .bind(value)
            .fetch_one(pool)
            .await;
        if let Err(e) = decoded {
            return Some(format!(
                "{table}.{column}: {value:?} (serde) does not decode through sqlx: {e}"
            ));
        }
    }
    let values: Vec<String> = values
        .into_iter()
        .filter(|v| Some(v.as_str()) != null_means)
        .collect();
    (&values != allowed).then(|| {
        format!(
            "{table}.{column}: the enum {} has {values:?}, the CHECK allows {allowed:?}",
            std::any::type_name::<T>()
        )
    })
}

/// Every status column is a Rust enum mirrored by a CHECK (STYLE.md, "State
/// machines are types"): the two must list the same values, or a state the
/// code writes is refused by the database, or one the database allows fails
/// to read. Every `status`/`*_status` column with a CHECK list must be named
/// here, so a new one cannot go unchecked.
#[tokio::test]
async fn status_enums_and_checks_agree() {
    use shared::domain::booking::{availability, bookings, holds, offers, requests};
    use shared::domain::claims::{RequestStatus, representation};
    use shared::domain::contracts::{contracts, library};
    use shared::domain::finance::{handoff, status};
    use shared::domain::logistics::proposals;

    let db = kisum_tests::TestDb::migrated().await;
    let pool = db.pool().await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid)
           FROM pg_constraint
          WHERE contype = 'c' AND connamespace = 'public'::regnamespace",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut checks = BTreeMap::new();
    for (table, definition) in &rows {
        let column = definition
            .strip_prefix("CHECK ((")
            .and_then(|rest| rest.split_once(' '))
            .map(|(column, _)| column);
        let Some(column) = column.filter(|c| *c == "status" || c.ends_with("_status")) else {
            continue;
        };
        if let Some(values) = allowed_values(column, definition) {
            checks.insert((table.clone(), column.to_owned()), values);
        }
    }

    let mut compared = BTreeSet::new();
    let mut problems = Vec::new();
    macro_rules! agree {
        ($($table:literal . $column:literal => $enum:ty $(, null as $null:literal)?;)*) => {
            $(
                compared.insert(($table.to_owned(), $column.to_owned()));
                let null_means: Option<&str> = None $(.or(Some($null)))?;
                problems.extend(
                    compare::<$enum>(&pool, &checks, $table, $column, null_means).await,
                );
            )*
        };
    }
    agree! {
        "artists_company_claims"."status" => RequestStatus;
        "artists_provisioning_requests"."status" => RequestStatus;
        "representation_claims"."status" => representation::ClaimStatus;
        "representation_disputes"."status" => representation::DisputeStatus;
        "availabilities"."status" => availability::AvailabilityStatus;
        "holds"."status" => holds::HoldStatus;
        "booking_requests"."status" => requests::BookingRequestStatus;
        "offers"."status" => offers::OfferStatus;
        "bookings"."status" => bookings::BookingStatus;
        "contract_templates"."status" => library::TemplateStatus;
        "contracts"."status" => contracts::ContractStatus;
        "contract_signers"."status" => contracts::SignerStatus;
        "logistics_proposals"."status" => proposals::LogisticsProposalStatus;
        "booking_finance"."deposit_status" => status::DepositStatus, null as "not_reported";
        "booking_finance"."invoice_status" => status::InvoiceStatus, null as "not_reported";
        "booking_finance"."settlement_status" => status::SettlementStatus, null as "not_reported";
        "finance_handoffs"."status" => handoff::HandoffStatus;
    }
    for (table, column) in checks.keys() {
        if !compared.contains(&(table.clone(), column.clone())) {
            problems.push(format!(
                "{table}.{column} has a CHECK list but no enum named in this test: add it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

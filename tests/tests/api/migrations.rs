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

use std::collections::BTreeMap;
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

//! The layers of `shared`: a module never imports one above it. Each area
//! of `shared/src` has a rank in [`LAYERS`]; an import from one area into
//! another must go to a strictly lower rank, so areas of one rank (the
//! booking-linked areas, say) never call each other, and a cycle cannot
//! form. What a booking's change causes in other areas is wired above them
//! all, in `domain::consequences`.
//!
//! Imports are read from the source: `use crate::...` and `use super::...`
//! trees and `crate::...` paths in code (comments and `#[cfg(test)]`
//! modules are skipped).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Areas of `shared/src` from the bottom up; one rank per line.
const LAYERS: &[&[&str]] = &[
    &[
        "codes",
        "client_addr",
        "text",
        "serde_util",
        "telemetry",
        "shutdown",
        "unnamed",
    ],
    &["error"],
    &["validate", "pagination", "money"],
    &["reference"],
    &["jobs"],
    &["access"],
    &[
        "domain",
        "domain::machine",
        "domain::changes",
        "domain::events",
    ],
    &["domain::directory"],
    &["domain::claims"],
    &["domain::booking"],
    &[
        "domain::contracts",
        "domain::finance",
        "domain::logistics",
        "domain::touring",
    ],
    &["domain::relationships"],
    &["domain::read_models"],
    &["domain::shortlists"],
    &["domain::consequences"],
    &["privacy"],
    &[
        "config",
        "webhooks",
        "idempotency",
        "rate_limit",
        "history",
        "replica",
    ],
    &["db", "auth"],
    &["ops"],
    &["demo"],
];

/// Items `lib.rs` re-exports at the crate root, by the area they live in.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Code", "codes"),
    ("DomainError", "error"),
    ("FieldError", "error"),
    ("for_each_job", "jobs"),
];

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `domain/booking/mod.rs` is `domain::booking`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The area a path inside the crate belongs to: its first segment, or for
/// `domain`, `domain::<area>` (items of `domain` itself stay `domain`).
fn area_of(path: &[String], domain_areas: &BTreeSet<String>) -> String {
    match path {
        [] => String::new(),
        [first, rest @ ..] if first == "domain" => match rest.first() {
            Some(area) if domain_areas.contains(area) => format!("domain::{area}"),
            _ => "domain".to_owned(),
        },
        [first, ..] => ROOT_ITEMS
            .iter()
            .find(|(item, _)| item == first)
            .map_or_else(|| first.clone(), |(_, area)| (*area).to_owned()),
    }
}

/// The source without comments and without its `#[cfg(test)]` module.
fn code_of(source: &str) -> String {
    let code: Vec<&str> = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let code = code.join("\n");
    match code.find("#[cfg(test)]") {
        Some(i) => code[..i].to_owned(),
        None => code,
    }
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap()];
        let mut base = prefix.to_vec();
        base.extend(head);
        let (mut depth, mut start) = (0, 0);
        for (i, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&base, &inner[start..], out);
    } else {
        let path = tree.split(" as ").next().unwrap();
        let mut full = prefix.to_vec();
        full.extend(
            path.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "self")
                .map(str::to_owned),
        );
        out.push(full);
    }
}

/// The crate paths `code` of module `module` imports.
fn imports(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let tail = &rest[i + 4..];
        rest = tail;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = tail.find(';') else { break };
        let tree = tail[..end].trim();
        if let Some(t) = tree.strip_prefix("crate::") {
            expand(&[], t, &mut out);
        } else if let Some(t) = tree.strip_prefix("super::") {
            // `super` of `a/b.rs` (module `a::b`) and of `a/b/mod.rs`
            // (also `a::b`) is `a`.
            let mut parent = module.to_vec();
            parent.pop();
            expand(&parent, t, &mut out);
        }
    }
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        let tail = &rest[i + 7..];
        rest = tail;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path: String = tail
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if !path.is_empty() {
            out.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    out
}

/// Every import between two different areas: (from, to) -> files.
fn area_edges() -> BTreeMap<(String, String), BTreeSet<String>> {
    let root = shared_src();
    let domain_areas: BTreeSet<String> = std::fs::read_dir(root.join("domain"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            (name != "mod").then_some(name)
        })
        .collect();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&root, &file);
        let from = area_of(&module, &domain_areas);
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for path in imports(&module, &code) {
            let to = area_of(&path, &domain_areas);
            if !to.is_empty() && !from.is_empty() && to != from {
                edges
                    .entry((from.clone(), to))
                    .or_default()
                    .insert(file.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    edges
}

fn rank(area: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&area))
}

#[test]
fn shared_modules_import_only_lower_layers() {
    let edges = area_edges();
    assert!(
        edges.contains_key(&(
            "domain::consequences".to_owned(),
            "domain::booking".to_owned()
        )),
        "the import scan found nothing: {edges:?}"
    );
    let mut problems = Vec::new();
    for ((from, to), files) in &edges {
        match (rank(from), rank(to)) {
            (None, _) => problems.push(format!("{from} has no layer in LAYERS")),
            (_, None) => problems.push(format!("{to} has no layer in LAYERS")),
            (Some(f), Some(t)) if t >= f => problems.push(format!(
                "{from} (layer {f}) imports {to} (layer {t}) in {files:?}"
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_import_scan_reads_use_trees_and_paths() {
    let module = vec![
        "domain".to_owned(),
        "booking".to_owned(),
        "holds".to_owned(),
    ];
    let code = "use super::offers::{self, Offer};\nuse crate::{access::{self, Party}, jobs};\n\
                fn f() { crate::domain::changes::mark(x); reuse crate_like::x; }";
    let found: BTreeSet<String> = imports(&module, code)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    let expected: BTreeSet<String> = [
        "domain::booking::offers",
        "domain::booking::offers::Offer",
        "access",
        "access::Party",
        "jobs",
        "domain::changes::mark",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
}

/// Files that may name the job queue's tables (`apalis.*`): the queue's
/// storage, the ops module, and the tests' view of the queue. Everything
/// else asks them, so an apalis upgrade touches these files only.
const QUEUE_TABLE_OWNERS: &[&str] = &[
    "shared/src/jobs/queue.rs",
    "shared/src/ops/",
    "worker/src/queue.rs",
    "tests/src/queue.rs",
];

#[test]
fn only_the_queue_and_ops_modules_name_the_queue_tables() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        "shared/src",
        "api/src",
        "worker/src",
        "tests/src",
        "tests/tests",
    ] {
        rust_files(&repo.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "the scan found too few files: {}",
        files.len()
    );
    let mut offenders = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&repo).unwrap().display().to_string();
        if QUEUE_TABLE_OWNERS
            .iter()
            .any(|owner| rel.starts_with(owner))
        {
            continue;
        }
        let code = std::fs::read_to_string(file).unwrap();
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") || line.contains("QUEUE_TABLE_OWNERS") {
                continue;
            }
            if line.contains(concat!("apalis", ".")) {
                offenders.insert(format!("{rel}:{}", n + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

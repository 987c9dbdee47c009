//! Statements with optional filters (`$n IS NULL OR ...`) and Postgres'
//! generic plans. sqlx caches each statement per connection, and after five
//! runs Postgres may plan a cached statement once for all values: that plan
//! cannot use the index of an optional filter. So each such statement runs
//! unnamed (planned with each call's values) or says, in a `// Generic
//! plan:` comment directly above it, why its generic plan is as good.
//!
//! Statements are read from the source: the `query!`, `query_as!` and
//! `query_scalar!` macros and the runtime `sqlx::query*` functions (with a
//! literal or a `const` of the same file), their SQL, the method chain up to
//! the `.fetch*`/`.execute` that runs them, and the comment above them.

use std::path::{Path, PathBuf};

use kisum_tests::TestDb;
use kisum_tests::world::{AGENCY, booking_world};
use shared::unnamed::Unnamed;
use uuid::Uuid;

/// One statement found in a source file.
#[derive(Debug, PartialEq, Eq)]
struct Statement {
    /// 1-based line of the macro or function name.
    line: usize,
    sql: String,
    /// `.persistent(false)` in its chain, or run through `Unnamed(..)`.
    unnamed: bool,
    /// A `// Generic plan:` line in the comment directly above it.
    explained: bool,
}

const STARTS: &[&str] = &[
    "query!(",
    "query_as!(",
    "query_scalar!(",
    "sqlx::query(",
    "sqlx::query_as(",
    "sqlx::query_scalar(",
    "sqlx::query_as::<",
    "sqlx::query_scalar::<",
];

/// If a string literal (`"..."`, `r"..."`, `r#"..."#`) starts at `i`: its
/// contents and the index after it.
fn literal_at(b: &[u8], i: usize) -> Option<(String, usize)> {
    if b[i] == b'"' {
        let mut j = i + 1;
        while b[j] != b'"' {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        return Some((String::from_utf8_lossy(&b[i + 1..j]).into_owned(), j + 1));
    }
    if b[i] == b'r' && (i == 0 || !is_ident(b[i - 1])) {
        let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
        let open = i + 1 + hashes;
        if b.get(open) == Some(&b'"') {
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let mut j = open + 1;
            while !b[j..].starts_with(&close) {
                j += 1;
            }
            let text = String::from_utf8_lossy(&b[open + 1..j]).into_owned();
            return Some((text, j + close.len()));
        }
    }
    None
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The index after the `)` matching the `(` at `open`, and the string
/// literals inside, joined. Literals and `//` comments are skipped over.
fn balanced(b: &[u8], open: usize) -> (usize, String) {
    let mut depth = 0;
    let mut text = String::new();
    let mut i = open;
    loop {
        if let Some((lit, next)) = literal_at(b, i) {
            text.push_str(&lit);
            i = next;
            continue;
        }
        match b[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1, text);
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The SQL of `const NAME: &str = "...";` in the same source.
fn const_sql(src: &str, name: &str) -> Option<String> {
    let start = src.find(&format!("const {name}: &str"))?;
    let eq = start + src[start..].find('=')?;
    let lit = eq + 1 + src[eq + 1..].find(|c: char| !c.is_whitespace())?;
    literal_at(src.as_bytes(), lit).map(|(text, _)| text)
}

/// Whether the chain after index `i` makes the statement unnamed.
fn unnamed_chain(b: &[u8], mut i: usize) -> bool {
    loop {
        while b[i].is_ascii_whitespace() || b[i..].starts_with(b"//") {
            if b[i] == b'/' {
                while b[i] != b'\n' {
                    i += 1;
                }
            }
            i += 1;
        }
        if b[i] != b'.' {
            return false;
        }
        let name_start = i + 1;
        i = name_start;
        while is_ident(b[i]) {
            i += 1;
        }
        let name = String::from_utf8_lossy(&b[name_start..i]).into_owned();
        if b[i] != b'(' {
            return false;
        }
        let args_start = i + 1;
        let (next, _) = balanced(b, i);
        let args = String::from_utf8_lossy(&b[args_start..next - 1]);
        let args = args.trim();
        if name == "persistent" && args == "false" {
            return true;
        }
        if name.starts_with("fetch") || name == "execute" {
            return args.starts_with("Unnamed(");
        }
        i = next;
    }
}

/// Whether the comment lines directly above `line` (1-based) hold a
/// `// Generic plan:` line.
fn explained(lines: &[&str], line: usize) -> bool {
    lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim_start())
        .take_while(|l| l.starts_with("//"))
        .any(|l| l.starts_with("// Generic plan:"))
}

fn statements(src: &str) -> Vec<Statement> {
    let b = src.as_bytes();
    let lines: Vec<&str> = src.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            i += src[i..].find('\n').unwrap_or(src.len() - i);
            continue;
        }
        let Some(start) = STARTS
            .iter()
            .find(|s| b[i..].starts_with(s.as_bytes()))
            .filter(|_| i == 0 || !is_ident(b[i - 1]))
        else {
            i += 1;
            continue;
        };
        let open = i + start.len() - 1;
        let open = if b[open] == b'(' {
            open
        } else {
            open + src[open..].find('(').unwrap()
        };
        let (end, mut sql) = balanced(b, open);
        if sql.is_empty() {
            let first = src[open + 1..end - 1].split(',').next().unwrap().trim();
            sql = const_sql(src, first).unwrap_or_default();
        }
        let line = src[..i].matches('\n').count() + 1;
        found.push(Statement {
            line,
            sql,
            unnamed: unnamed_chain(b, end),
            explained: explained(&lines, line),
        });
        i = end;
    }
    found
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

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every statement of `shared`, `api` and `worker`, with its file.
fn all_statements() -> Vec<(String, Statement)> {
    let repo = repo();
    let mut files = Vec::new();
    for dir in ["shared/src", "api/src", "worker/src"] {
        rust_files(&repo.join(dir), &mut files);
    }
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&repo).unwrap().display().to_string();
        let src = std::fs::read_to_string(&file).unwrap();
        out.extend(statements(&src).into_iter().map(|s| (rel.clone(), s)));
    }
    out
}

#[test]
fn statements_with_optional_filters_run_unnamed_or_say_why_not() {
    let all = all_statements();
    let optional: Vec<_> = all
        .iter()
        .filter(|(_, s)| s.sql.contains("IS NULL OR"))
        .collect();
    assert!(
        all.len() > 200 && optional.len() > 20,
        "the scan found too little: {} statements, {} with an optional filter",
        all.len(),
        optional.len()
    );
    assert!(optional.iter().any(|(_, s)| s.unnamed));
    assert!(optional.iter().any(|(_, s)| s.explained));
    let offenders: Vec<String> = optional
        .iter()
        .filter(|(_, s)| !s.unnamed && !s.explained)
        .map(|(file, s)| format!("{file}:{}", s.line))
        .collect();
    assert!(
        offenders.is_empty(),
        "statements with `IS NULL OR` that are neither unnamed (`.persistent(false)`, \
         `Unnamed(conn)`) nor explained by a `// Generic plan:` comment above them \
         (after five runs Postgres may give them a generic plan that skips the \
         filter's index; see docs/ARCHITECTURE.md, \"Statements with optional filters\"):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_statement_scan_reads_sql_chains_and_comments() {
    let src = r###"
const LIST_SQL: &str = "SELECT 1 WHERE $1::int IS NULL OR x = $1";
async fn f(conn: &mut PgConnection) {
    let a = sqlx::query_as!(Row, r#"SELECT "x!" FROM t WHERE ($1::uuid IS NULL OR id = $1)"#, v)
        .fetch_all(Unnamed(&mut *conn))
        .await?;
    // Why the next one is fine.
    // Generic plan: found by its primary key.
    let b = sqlx::query!("SELECT 1 FROM t WHERE id = $1 AND ($2::text IS NULL OR s = $2)", id, s)
        .fetch_one(&mut *conn)
        .await?;
    let c = sqlx::query(LIST_SQL).bind(Some(1)).persistent(false).fetch_all(&mut *conn).await?;
    let d = sqlx::query_scalar!(
        "SELECT id FROM t WHERE $1::uuid IS NULL OR id > $1",
        // the cursor (a paren in a comment
        after
    )
    // and a comment in the chain
    .fetch_all(&mut *conn)
    .await?;
    let e = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM t").fetch_one(conn).await?;
}
"###;
    let found = statements(src);
    let summary: Vec<(usize, bool, bool, bool)> = found
        .iter()
        .map(|s| (s.line, s.sql.contains("IS NULL OR"), s.unnamed, s.explained))
        .collect();
    assert_eq!(
        summary,
        vec![
            (4, true, true, false),
            (9, true, false, true),
            (12, true, true, false),
            (13, true, false, false),
            (21, false, false, false),
        ]
    );
    assert!(found[0].sql.contains(r#"SELECT "x!" FROM t"#));
}

/// The SQL of the statement of `file` that contains `marker`.
fn shipped_sql(file: &str, marker: &str) -> String {
    let src = std::fs::read_to_string(repo().join(file)).unwrap();
    let mut found = statements(&src)
        .into_iter()
        .filter(|s| s.sql.contains(marker));
    let statement = found.next().expect("the statement is in the source");
    assert!(found.next().is_none(), "the marker names one statement");
    assert!(statement.unnamed, "the statement is shipped unnamed");
    statement.sql
}

/// The trap is real: the roster links list (optional company and artist),
/// run six times as a named statement for the whole agency, is switched to
/// a generic plan, which then answers one artist's links by reading every
/// link; the same SQL as shipped (unnamed) finds them through the index.
#[tokio::test]
async fn a_named_statement_switches_to_a_generic_plan_that_skips_the_filter_index() {
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    booking_world(&pool, 3000, 0, 0, 0).await;
    let sql = shipped_sql(
        "shared/src/domain/claims/representation.rs",
        "IS NULL OR l.company_id = $1",
    );
    let artist: Uuid = sqlx::query_scalar("SELECT artist_id FROM roster_links LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE links AS {sql}")))
        .execute(&mut *conn)
        .await
        .unwrap();
    for _ in 0..6 {
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "EXECUTE links('{AGENCY}', NULL)"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        assert_eq!(rows.len(), 1000);
    }
    let generic: i64 =
        sqlx::query_scalar("SELECT generic_plans FROM pg_prepared_statements WHERE name = 'links'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(generic > 0, "Postgres kept custom plans: {generic}");
    let plan = |rows: Vec<String>| rows.join("\n");
    let cached = plan(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN EXECUTE links(NULL, '{artist}')"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap(),
    );
    assert!(
        cached.contains("Seq Scan on roster_links") && !cached.contains("roster_links_artist_idx"),
        "the generic plan:\n{cached}"
    );
    let shipped = plan(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
            .bind(None::<Uuid>)
            .bind(artist)
            .fetch_all(Unnamed(&mut conn))
            .await
            .unwrap(),
    );
    assert!(
        shipped.contains("roster_links_artist_idx")
            && !shipped.contains("Seq Scan on roster_links"),
        "the plan of the unnamed statement:\n{shipped}"
    );
}

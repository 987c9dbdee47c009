//! The documentation's links stay valid: every relative link in the
//! repository's Markdown (the front page, `docs/`, `deploy/`, ...) names a
//! file or directory that exists inside the repository, and a `#anchor`
//! names a heading of the Markdown file it points at, by GitHub's rule
//! (lowercase; letters, digits, `-` and `_` kept, spaces become `-`, other
//! punctuation dropped; a repeated heading gets `-1`, `-2`, ...). Links with
//! a scheme (`https:`, `mailto:`) are not followed. Code blocks and code
//! spans are not links.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository")
        .to_path_buf()
}

/// Every Markdown file under `dir`, skipping build output, installed
/// packages and hidden directories (`.git`, `.dev`).
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                markdown_files(&path, out);
            }
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// The lines of a Markdown text with their numbers, fenced code blocks
/// blanked out.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut fence: Option<String> = None;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        let opens = marker.len() >= 3 && marker.chars().all(|c| marker.starts_with(c));
        match &fence {
            Some(open) if opens && marker.starts_with(open.as_str()) => {
                fence = None;
                lines.push((index + 1, String::new()));
            }
            Some(_) => lines.push((index + 1, String::new())),
            None if opens => {
                fence = Some(marker);
                lines.push((index + 1, String::new()));
            }
            None => lines.push((index + 1, line.to_owned())),
        }
    }
    lines
}

/// `line` without its code spans (a run of backticks up to the next run of
/// the same length).
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        let mut j = i + run;
        let mut closed = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let other = chars[j..].iter().take_while(|c| **c == '`').count();
                if other == run {
                    closed = Some(j + other);
                    break;
                }
                j += other;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(end) => i = end,
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// The targets of the inline links and images of a line (`[text](target)`,
/// `[text](<target>)`, `[text](target "title")`) and of a reference
/// definition (`[label]: target`).
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[')
        && let Some(end) = trimmed.find("]:")
    {
        let target = trimmed[end + 2..].split_whitespace().next().unwrap_or("");
        if !target.is_empty() {
            targets.push(
                target
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned(),
            );
        }
        return targets;
    }
    let mut rest = line;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let target = if let Some(inner) = after.strip_prefix('<') {
            inner.split('>').next().unwrap_or("")
        } else {
            let end = after
                .find(|c: char| c == ')' || c.is_whitespace())
                .unwrap_or(after.len());
            &after[..end]
        };
        if !target.is_empty() {
            targets.push(target.to_owned());
        }
        rest = after;
    }
    targets
}

/// GitHub's anchor for a heading's text.
fn github_anchor(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // A link in a heading contributes its text only.
    while let Some(start) = rest.find('[') {
        text.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find("](") {
            Some(mid) if after[mid..].contains(')') => {
                text.push_str(&after[..mid]);
                let close = after[mid..].find(')').unwrap_or(0);
                rest = &after[mid + close + 1..];
            }
            _ => {
                text.push('[');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors a Markdown file offers: its headings (ATX and setext) by
/// GitHub's rule, and explicit `<a id="...">` / `<a name="...">`.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = HashSet::new();
    let mut add = |slug: String| {
        let n = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    };
    let lines = prose_lines(text);
    for (index, (_, line)) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with([' ', '\t']) {
            let title = trimmed[hashes..].trim().trim_end_matches('#').trim_end();
            add(github_anchor(title));
            continue;
        }
        let underline = line.trim();
        let setext = !underline.is_empty()
            && (underline.chars().all(|c| c == '=') || underline.chars().all(|c| c == '-'));
        if setext && index > 0 {
            let previous = lines[index - 1].1.trim();
            let is_text = !previous.is_empty()
                && !previous.starts_with(['-', '*', '+', '|', '#', '>'])
                && !previous.starts_with(|c: char| c.is_ascii_digit());
            if is_text {
                add(github_anchor(previous));
            }
        }
    }
    for (_, line) in &lines {
        for attribute in ["id=\"", "name=\""] {
            let mut rest = line.as_str();
            while let Some(start) = rest.find("<a ") {
                let tag_end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
                let tag = &rest[start..tag_end];
                if let Some(at) = tag.find(attribute) {
                    let value = &tag[at + attribute.len()..];
                    if let Some(end) = value.find('"') {
                        anchors.insert(value[..end].to_owned());
                    }
                }
                rest = &rest[tag_end..];
            }
        }
    }
    anchors
}

/// `path` with `.` and `..` resolved without touching the file system;
/// `None` when it climbs above its root.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Every broken relative link of the Markdown files under `root`, as
/// `file:line: what`.
fn broken_links(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    markdown_files(root, &mut files);
    let mut anchor_cache: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    let mut broken = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(root).unwrap().to_path_buf();
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in prose_lines(&text) {
            for target in link_targets(&without_code_spans(&line)) {
                let has_scheme = target.split_once(':').is_some_and(|(scheme, _)| {
                    !scheme.is_empty()
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                });
                if has_scheme || target.starts_with("//") {
                    continue;
                }
                let at = format!("{}:{number}", relative.display());
                let (path, fragment) = match target.split_once('#') {
                    Some((path, fragment)) => (path, Some(fragment)),
                    None => (target.as_str(), None),
                };
                let linked = if path.is_empty() {
                    Some(relative.clone())
                } else if let Some(from_root) = path.strip_prefix('/') {
                    normalise(Path::new(from_root))
                } else {
                    normalise(&relative.parent().unwrap_or(Path::new("")).join(path))
                };
                let Some(linked) = linked else {
                    broken.push(format!("{at}: {target} points outside the repository"));
                    continue;
                };
                let full = root.join(&linked);
                if !full.exists() {
                    broken.push(format!("{at}: {target}: no file {}", linked.display()));
                    continue;
                }
                let Some(fragment) = fragment else { continue };
                if full.extension().is_none_or(|e| e != "md") {
                    continue;
                }
                let known = anchor_cache.entry(full.clone()).or_insert_with(|| {
                    anchors(&std::fs::read_to_string(&full).unwrap_or_default())
                });
                if !known.contains(fragment) {
                    broken.push(format!(
                        "{at}: {target}: {} has no heading with the anchor #{fragment}",
                        linked.display()
                    ));
                }
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = repository();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("docs/ARCHITECTURE.md")),
        "the walk finds the docs"
    );
    let broken = broken_links(&root);
    assert!(
        broken.is_empty(),
        "broken links in the documentation:\n{}",
        broken.join("\n")
    );
}

#[test]
fn docs_link_check_finds_missing_files_and_anchors() {
    let root = std::env::temp_dir().join(format!("kisum-docs-links-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(root.join("docs/areas")).unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Front\n\n\
         [ok](docs/areas/a.md#the-rules-spec-51) [ok](docs/areas/a.md#notes-1)\n\
         [ok](#front) [gone](docs/missing.md) [bad anchor](docs/areas/a.md#nowhere)\n\
         `[not a link](docs/missing.md)` [web](https://example.com/x.md)\n\
         [up](../outside.md)\n\n\
         ```\n[in a block](docs/missing.md)\n```\n",
    )
    .unwrap();
    std::fs::write(
        root.join("docs/areas/a.md"),
        "# The rules (SPEC 5.1)\n\n## Notes\n\n## Notes\n\n[back](../../README.md#front) [self](#notes)\n",
    )
    .unwrap();
    let broken = broken_links(&root);
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(broken.len(), 3, "{broken:#?}");
    assert!(
        broken[0].starts_with("README.md:4: docs/missing.md"),
        "{broken:#?}"
    );
    assert!(broken[1].contains("#nowhere"), "{broken:#?}");
    assert!(broken[2].contains("outside the repository"), "{broken:#?}");
}

#[test]
fn docs_anchors_follow_github() {
    assert_eq!(github_anchor("Directory (SPEC 5.1)"), "directory-spec-51");
    assert_eq!(
        github_anchor("Many replicas: containers, Kubernetes, faults"),
        "many-replicas-containers-kubernetes-faults"
    );
    assert_eq!(github_anchor("`api/` (`kisum-api`)"), "api-kisum-api");
    assert_eq!(github_anchor("Bird's Eye View"), "birds-eye-view");
    assert_eq!(
        github_anchor("read_models & the [lag](x.md)"),
        "read_models--the-lag"
    );
    assert_eq!(github_anchor("Größe"), "größe");
}

/// CI runs exactly the front page's test command (`.ci/run`), so the front
/// page must keep showing it.
#[test]
fn docs_front_page_shows_the_ci_command() {
    let root = repository();
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(ci.contains("exec ./deploy/dev.sh test"), "{ci}");
    assert!(readme.contains("./deploy/dev.sh test"));
}

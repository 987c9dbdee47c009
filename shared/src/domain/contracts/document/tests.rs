#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use chrono::{TimeZone, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::fonts::FACES;
use super::layout::{BOTTOM, Item, RIGHT, TOP};
use super::pdf::lay_out;
use super::{BlockState, Document, SignatureBlock, html, pdf};

const CLAUSE: &str = "The Promoter shall pay the Agency the guaranteed fee of €12 500 for \
the performance at Café Müller in Zürich, together with the costs of backline, \
hospitality and ground transport set out in the rider — “no later than” the dates below.";

/// A contract body of about three pages with every block the renderer knows.
fn contract_body(sections: usize) -> String {
    let mut body = String::from("# Performance agreement\n\n");
    for n in 1..=sections {
        body.push_str(&format!(
            "## {n}. Clause with *emphasis*\n\n{CLAUSE} **Bold terms** and `code`.\n\n"
        ));
        body.push_str("- Fee: €12 500\n- Deposit: 50 %\n  - nested détail\n\n");
        body.push_str("1. First\n2. Second\n\n");
        if n % 3 == 0 {
            body.push_str("> Quoted naïve text, quoted at length so that it wraps onto a second line of the page.\n\n");
            body.push_str("```\nfn rider() { let backline = true; }\n```\n\n---\n\n");
        }
    }
    body
}

fn signers() -> Vec<SignatureBlock<'static>> {
    vec![
        SignatureBlock {
            name: "Zoë Agency-Signer",
            party: "Agency",
            company: "Kisum Bookings Ltd",
            order: 2,
            state: BlockState::Awaiting,
        },
        SignatureBlock {
            name: "Jürgen Promoter",
            party: "Promoter",
            company: "Live Events GmbH",
            order: 1,
            state: BlockState::Signed {
                typed_name: "Jürgen P.",
                at: Utc.with_ymd_and_hms(2025, 3, 4, 10, 30, 0).unwrap(),
            },
        },
        SignatureBlock {
            name: "Dana Declines",
            party: "Agency",
            company: "Kisum Bookings Ltd",
            order: 3,
            state: BlockState::Declined {
                at: Utc.with_ymd_and_hms(2025, 3, 5, 9, 0, 0).unwrap(),
            },
        },
    ]
}

fn sha256(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

fn document<'a>(body: &'a str, hash: &'a str, signers: &'a [SignatureBlock<'a>]) -> Document<'a> {
    Document {
        title: "Booking contract — Café Müller",
        body,
        contract_id: Uuid::from_u128(0x0193_a1b2_c3d4_7e5f_8a9b_0c1d_2e3f_4a5b),
        version: 3,
        content_sha256: hash,
        status: "partially_signed",
        signers,
    }
}

#[test]
fn html_escapes_raw_html_and_unsafe_links() {
    let body = "Hello <script>alert(1)</script> world\n\n<div onclick=\"x()\">block</div>\n\n\
                [bad](javascript:alert(1)) [good](https://example.com) ![img](https://t.example/p.gif)";
    let hash = sha256(body);
    let signers = signers();
    let mut doc = document(body, &hash, &signers);
    doc.title = "<b>Title</b> & co";
    let page = html(&doc);

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<div onclick"));
    assert!(page.contains("&lt;div onclick="));
    assert!(!page.contains("<b>Title"));
    assert!(page.contains("&lt;b&gt;Title&lt;/b&gt; &amp; co"));
    assert!(!page.contains("javascript:alert"), "unsafe link dropped");
    assert!(page.contains("href=\"https://example.com\""));
    assert!(!page.contains("<img"), "images show their alt text only");
    assert!(page.contains(&hash));
    assert!(page.contains("Version 3"));
    for signer in &signers {
        assert!(page.contains(signer.name));
    }
    assert!(page.contains("Signed as \u{201c}Jürgen P.\u{201d} on 2025-03-04 10:30:00 UTC"));
    assert!(page.contains("Awaiting signature"));
    assert!(page.contains("Declined on 2025-03-05 09:00:00 UTC"));
    let promoter = page.find("Jürgen Promoter").unwrap();
    let agency = page.find("Zoë Agency-Signer").unwrap();
    assert!(promoter < agency, "signers in signing order");
}

#[test]
fn pdf_is_deterministic() {
    let body = contract_body(4);
    let hash = sha256(&body);
    let signers = signers();
    let doc = document(&body, &hash, &signers);
    let first = pdf(&doc).unwrap();
    assert!(first.starts_with(b"%PDF-"));
    assert_eq!(first, pdf(&doc).unwrap());
}

#[test]
fn long_body_makes_several_pages_and_keeps_headings_and_signatures_whole() {
    let faces = FACES.as_ref().unwrap();
    let signers = signers();
    for sections in [1, 8, 14, 15, 16, 17, 18, 19, 20, 30] {
        let body = contract_body(sections);
        let hash = sha256(&body);
        let (layout, footer, pages) = lay_out(faces, &document(&body, &hash, &signers));
        let rows = &layout.rows;
        assert_eq!(rows.last().unwrap().page + 1, pages);
        assert!(!footer.is_empty());
        if sections >= 14 {
            assert!(pages >= 3, "{sections} sections gave {pages} pages");
        }
        for row in rows {
            assert!(
                row.top >= TOP && row.top + row.height <= BOTTOM + 0.01,
                "{row:?}"
            );
            for item in &layout.items[row.items.clone()] {
                if let Item::Text { x, style, text, .. } = item {
                    let shown = &layout.text[text.clone()];
                    let width = faces.get(style.face).width(shown) * style.size;
                    assert!(x + width <= RIGHT + 0.01, "{shown:?} overflows the margin");
                }
            }
        }
        for pair in rows.windows(2) {
            if pair[0].keep_with_next {
                assert_eq!(
                    pair[0].page,
                    pair[1].page,
                    "a heading ended page {}",
                    pair[0].page + 1
                );
            }
            if pair[0].group != 0 && pair[0].group == pair[1].group {
                assert_eq!(pair[0].page, pair[1].page, "signature block split");
            }
        }
    }
}

fn pdftotext(file: &PathBuf, page: Option<usize>) -> String {
    let mut command = Command::new("pdftotext");
    if let Some(page) = page {
        let page = page.to_string();
        command.args(["-f", &page, "-l", &page]);
    }
    let output = command
        .args(["-enc", "UTF-8"])
        .arg(file)
        .arg("-")
        .output()
        .unwrap_or_else(|error| {
            panic!("pdftotext (Debian's poppler-utils) is needed by this test: {error}")
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn pdf_text_reads_back_with_the_hash_on_every_page() {
    let body = contract_body(16);
    let hash = sha256(&body);
    let signers = signers();
    let doc = document(&body, &hash, &signers);
    let bytes = pdf(&doc).unwrap();
    let (_, _, pages) = lay_out(FACES.as_ref().unwrap(), &doc);
    assert!(pages >= 3);
    let file = std::env::temp_dir().join(format!("contract-document-{}.pdf", std::process::id()));
    std::fs::write(&file, &bytes).unwrap();

    let text = pdftotext(&file, None);
    assert_eq!(
        text.matches('\u{c}').count(),
        pages,
        "one form feed per page"
    );
    for expected in [
        "Booking contract — Café Müller",
        "Performance agreement",
        "€12 500",
        "Café Müller in Zürich",
        "“no later than”",
        "nested détail",
        "Quoted naïve text",
        "fn rider() { let backline = true; }",
        "Jürgen Promoter",
        "Zoë Agency-Signer",
        "Dana Declines",
        "Signed as “Jürgen P.” on 2025-03-04 10:30:00 UTC",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    for page in 1..=pages {
        let text = pdftotext(&file, Some(page));
        assert!(text.contains(&hash), "page {page} lacks the hash:\n{text}");
        assert!(
            text.contains("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            "page {page}"
        );
        assert!(
            text.contains(&format!("Page {page} of {pages}")),
            "page {page}:\n{text}"
        );
    }
    std::fs::remove_file(&file).unwrap();
}

//! The HTML rendering: one self-contained, printable page.

use std::fmt::Write;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Tag, TagEnd};

use super::{Document, ordered, parser, state_line};

/// The page's one style sheet, inline so a saved copy is complete; the
/// API allows it in its `Content-Security-Policy` by hash.
pub const STYLE: &str = "\
@page{size:A4;margin:20mm 18mm 22mm}\
*{box-sizing:border-box}\
body{font-family:\"DejaVu Serif\",Georgia,serif;font-size:11pt;line-height:1.45;color:#111;\
max-width:46em;margin:2em auto;padding:0 1em}\
h1,h2,h3,h4,h5,h6{line-height:1.2;break-after:avoid;page-break-after:avoid}\
.document-title{font-size:20pt;margin:0 0 .3em}\
.meta{color:#555;font-size:9pt;margin:0 0 .15em}\
code,pre,.hash{font-family:\"DejaVu Sans Mono\",Menlo,monospace;font-size:.9em}\
.hash{word-break:break-all}\
pre{white-space:pre-wrap;overflow-wrap:anywhere}\
blockquote{margin:.8em 0;padding-left:1em;border-left:2pt solid #999}\
hr{border:0;border-top:.5pt solid #999}\
header{border-bottom:.5pt solid #999;padding-bottom:.6em;margin-bottom:1.2em}\
.signature{border-top:.5pt solid #999;margin-top:1.2em;padding-top:.5em;\
break-inside:avoid;page-break-inside:avoid}\
.signature p{margin:.1em 0}\
.signer{font-weight:bold}\
footer{color:#555;font-size:8pt;border-top:.5pt solid #999;margin-top:2em;padding-top:.4em}\
@media print{body{max-width:none;margin:0;padding:0}}";

/// The whole page. Every piece of the document is escaped, and raw HTML in
/// the body comes out as text, so a body can never inject markup or script;
/// links keep only http, https and mailto targets.
pub fn html(doc: &Document) -> String {
    let mut out = String::with_capacity(4096 + doc.body.len() * 2);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; style-src 'unsafe-inline'\">\n<title>",
    );
    escape(&mut out, doc.title);
    out.push_str("</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1 class=\"document-title\">");
    escape(&mut out, doc.title);
    out.push_str("</h1>\n<p class=\"meta\">Version ");
    let _ = write!(out, "{}", doc.version);
    out.push_str(" · Status: ");
    escape(&mut out, doc.status);
    let _ = write!(
        out,
        "</p>\n<p class=\"meta\">Contract {}</p>\n",
        doc.contract_id
    );
    out.push_str("<p class=\"meta\">SHA-256 <span class=\"hash\">");
    escape(&mut out, doc.content_sha256);
    out.push_str("</span></p>\n</header>\n<main>\n");
    pulldown_cmark::html::push_html(&mut out, safe_events(doc.body));
    out.push_str("</main>\n<section class=\"signatures\">\n<h2>Signatures</h2>\n");
    for signer in ordered(doc) {
        out.push_str("<div class=\"signature\">\n<p class=\"signer\">");
        escape(&mut out, signer.name);
        out.push_str("</p>\n<p>");
        escape(&mut out, signer.party);
        out.push_str(" · ");
        escape(&mut out, signer.company);
        out.push_str("</p>\n<p class=\"state\">");
        escape(&mut out, &state_line(&signer.state));
        out.push_str("</p>\n</div>\n");
    }
    let _ = write!(
        out,
        "</section>\n<footer>Contract {} · version {} · SHA-256 <span class=\"hash\">",
        doc.contract_id, doc.version
    );
    escape(&mut out, doc.content_sha256);
    out.push_str("</span></footer>\n</body>\n</html>\n");
    out
}

/// The body's events with raw HTML turned into text (an HTML block becomes
/// a preformatted block showing its source), images reduced to their alt
/// text, and links to other schemes than http, https and mailto unlinked.
fn safe_events(body: &str) -> impl Iterator<Item = Event<'_>> {
    let mut unlinked = Vec::new();
    parser(body).filter_map(move |event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::CodeBlock(CodeBlockKind::Indented))),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::CodeBlock)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            let keep = safe_url(dest_url);
            unlinked.push(!keep);
            keep.then_some(event)
        }
        Event::End(TagEnd::Link) => match unlinked.pop() {
            Some(true) => None,
            _ => Some(event),
        },
        other => Some(other),
    })
}

/// Relative links and http, https and mailto ones; never `javascript:` and
/// the like.
fn safe_url(url: &CowStr) -> bool {
    let scheme_end = url.find([':', '/', '?', '#']);
    match scheme_end {
        Some(end) if url[end..].starts_with(':') => {
            let scheme = &url[..end];
            ["http", "https", "mailto"]
                .iter()
                .any(|safe| scheme.eq_ignore_ascii_case(safe))
        }
        _ => true,
    }
}

fn escape(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

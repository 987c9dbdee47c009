//! The PDF rendering: the document laid out on A4 pages ([`super::layout`])
//! and drawn with krilla.

use std::fmt::Write;

use krilla::SerializeSettings;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::KrillaGlyph;
use pulldown_cmark::{CowStr, Event, HeadingLevel, Tag, TagEnd};

use super::fonts::{FACES, Face, Faces};
use super::layout::{
    BOTTOM, Ink, Item, LEFT, Layout, PAGE_HEIGHT, PAGE_WIDTH, RIGHT, Row, Style, Wrap, baseline,
    paginate,
};
use super::{Document, DocumentError, ordered, parser, state_line};

const BODY: f32 = 10.5;
const CODE: f32 = 9.0;
const FOOTER: f32 = 7.5;
const PARAGRAPH_GAP: f32 = 6.0;
const ITEM_GAP: f32 = 3.0;
const LIST_INDENT: f32 = 18.0;
const QUOTE_INDENT: f32 = 16.0;
const CODE_INDENT: f32 = 12.0;
const FOOTER_RULE: f32 = BOTTOM + 14.0;
const FOOTER_TOP: f32 = BOTTOM + 18.0;
/// Room kept right of the footer text for "Page x of y".
const PAGE_LABEL: f32 = 64.0;

/// The PDF: title, version and hash on top, the body, a block per signer
/// (each kept on one page), and on every page a footer with the contract
/// id, version, full SHA-256 and "Page x of y". The same document always
/// gives the same bytes.
pub fn pdf(doc: &Document) -> Result<Vec<u8>, DocumentError> {
    let faces = FACES.as_ref().ok_or(DocumentError::Font)?;
    let (layout, footer, pages) = lay_out(faces, doc);
    draw(&layout, &footer, pages, doc)
}

/// The paginated content rows, the footer's rows and the page count.
pub(super) fn lay_out<'f>(faces: &'f Faces, doc: &Document) -> (Layout<'f>, Vec<Row>, usize) {
    let mut layout = Layout::new(faces, doc.body.len() + 1024);
    header(&mut layout, doc);
    body(&mut layout, doc.body);
    signatures(&mut layout, doc);
    let content_rows = layout.rows.len();
    footer(&mut layout, doc);
    let footer = layout.rows.split_off(content_rows);
    let pages = paginate(&mut layout.rows);
    (layout, footer, pages)
}

fn style(face: Face, size: f32) -> Style {
    Style {
        face,
        size,
        ink: Ink::Text,
    }
}

fn muted(face: Face, size: f32) -> Style {
    Style {
        face,
        size,
        ink: Ink::Muted,
    }
}

fn header(layout: &mut Layout, doc: &Document) {
    layout.push(doc.title, style(Face::Bold, 18.0));
    layout.flush(Wrap::Words);
    layout.gap = 4.0;
    let meta = muted(Face::Regular, 9.0);
    let mut line = format!("Version {} · Status: ", doc.version);
    line.push_str(doc.status);
    layout.push(&line, meta);
    layout.flush(Wrap::Words);
    let mut id = uuid::Uuid::encode_buffer();
    layout.push("Contract ", meta);
    layout.push(
        doc.contract_id.hyphenated().encode_lower(&mut id),
        muted(Face::Mono, 8.5),
    );
    layout.flush(Wrap::Words);
    layout.push("SHA-256 ", meta);
    layout.push(doc.content_sha256, muted(Face::Mono, 8.5));
    layout.flush(Wrap::Words);
    layout.gap = 4.0;
    layout.rule(8.0, 4.0);
    layout.gap = 8.0;
}

fn heading_size(level: HeadingLevel) -> f32 {
    match level {
        HeadingLevel::H1 => 16.0,
        HeadingLevel::H2 => 13.5,
        HeadingLevel::H3 => 12.0,
        _ => BODY,
    }
}

/// Walks the Markdown body. Raw HTML is text (an HTML block is shown like
/// a code block), images show their alt text, and a link shows its target
/// after its text, as paper cannot be clicked.
fn body(layout: &mut Layout, markdown: &str) {
    let (mut bold, mut italic, mut code) = (0u32, 0u32, false);
    let mut heading: Option<HeadingLevel> = None;
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut links: Vec<(usize, CowStr)> = Vec::new();
    let mut quote_ids = 0;
    for event in parser(markdown) {
        let current = match (code, heading) {
            (true, _) => style(Face::Mono, CODE),
            (false, Some(level)) => style(Face::styled(true, italic > 0), heading_size(level)),
            (false, None) => style(Face::styled(bold > 0, italic > 0), BODY),
        };
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => block(layout, PARAGRAPH_GAP),
                Tag::Heading { level, .. } => {
                    block(layout, heading_size(level) + 2.0);
                    heading = Some(level);
                }
                Tag::BlockQuote(_) => {
                    block(layout, PARAGRAPH_GAP);
                    quote_ids += 1;
                    layout.quotes.push((quote_ids, layout.left + 2.0));
                    layout.left += QUOTE_INDENT;
                }
                Tag::CodeBlock(_) | Tag::HtmlBlock => {
                    block(layout, PARAGRAPH_GAP);
                    layout.left += CODE_INDENT;
                    code = true;
                }
                Tag::List(first) => {
                    block(
                        layout,
                        if lists.is_empty() {
                            PARAGRAPH_GAP
                        } else {
                            ITEM_GAP
                        },
                    );
                    lists.push(first);
                }
                Tag::Item => {
                    block(layout, ITEM_GAP);
                    let nested = lists.len() > 1;
                    let marker = match lists.last_mut() {
                        Some(Some(number)) => {
                            let start = layout.text.len();
                            let _ = write!(layout.text, "{number}.");
                            *number += 1;
                            start..layout.text.len()
                        }
                        _ if nested => layout.store("◦"),
                        _ => layout.store("•"),
                    };
                    layout.marker = Some((marker, style(Face::Regular, BODY)));
                    layout.left += LIST_INDENT;
                }
                Tag::Emphasis => italic += 1,
                Tag::Strong => bold += 1,
                Tag::Link { dest_url, .. } => links.push((layout.text.len(), dest_url)),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => layout.flush(Wrap::Words),
                TagEnd::Heading(_) => {
                    layout.keep_with_next = true;
                    layout.flush(Wrap::Words);
                    layout.keep_with_next = false;
                    heading = None;
                }
                TagEnd::BlockQuote(_) => {
                    layout.flush(Wrap::Words);
                    layout.quotes.pop();
                    layout.left -= QUOTE_INDENT;
                }
                TagEnd::CodeBlock | TagEnd::HtmlBlock => {
                    layout.flush(Wrap::Chars);
                    layout.left -= CODE_INDENT;
                    code = false;
                }
                TagEnd::List(_) => {
                    layout.flush(Wrap::Words);
                    lists.pop();
                }
                TagEnd::Item => {
                    layout.flush(Wrap::Words);
                    if layout.marker.is_some() {
                        layout.empty_row();
                    }
                    layout.left -= LIST_INDENT;
                }
                TagEnd::Emphasis => italic = italic.saturating_sub(1),
                TagEnd::Strong => bold = bold.saturating_sub(1),
                TagEnd::Link => {
                    if let Some((start, url)) = links.pop() {
                        let shown = &layout.text[start.min(layout.text.len())..];
                        let plain = url.strip_prefix("mailto:").unwrap_or(&url);
                        if !url.is_empty() && shown != plain {
                            layout.push(" (", current);
                            layout.push(&url, current);
                            layout.push(")", current);
                        }
                    }
                }
                _ => {}
            },
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => {
                layout.push(&text, current);
            }
            Event::Code(text) => layout.push(&text, style(Face::Mono, current.size * 0.9)),
            Event::SoftBreak => layout.push(" ", current),
            Event::HardBreak => layout.push("\n", current),
            Event::Rule => {
                block(layout, PARAGRAPH_GAP);
                layout.rule(10.0, 5.0);
            }
            _ => {}
        }
    }
    layout.flush(Wrap::Words);
}

/// A new block: what was collected so far (a tight list item's text) is
/// laid out first, and the next row keeps at least `gap` above it.
fn block(layout: &mut Layout, gap: f32) {
    layout.flush(Wrap::Words);
    layout.gap = layout.gap.max(gap);
}

fn signatures(layout: &mut Layout, doc: &Document) {
    block(layout, 18.0);
    layout.keep_with_next = true;
    layout.push(
        "Signatures",
        style(Face::Bold, heading_size(HeadingLevel::H2)),
    );
    layout.flush(Wrap::Words);
    layout.keep_with_next = false;
    for (group, signer) in (1..).zip(ordered(doc)) {
        layout.group = group;
        block(layout, 10.0);
        layout.rule(8.0, 2.0);
        layout.push(signer.name, style(Face::Bold, 11.0));
        layout.flush(Wrap::Words);
        let details = muted(Face::Regular, 9.5);
        layout.push(signer.party, details);
        layout.push(" · ", details);
        layout.push(signer.company, details);
        layout.flush(Wrap::Words);
        layout.push(&state_line(&signer.state), style(Face::Italic, 10.0));
        layout.flush(Wrap::Words);
    }
    layout.group = 0;
}

/// The footer's rows, the same on every page; the page label is added when
/// drawing.
fn footer(layout: &mut Layout, doc: &Document) {
    let (text, mono) = (muted(Face::Regular, FOOTER), muted(Face::Mono, FOOTER));
    let mut id = uuid::Uuid::encode_buffer();
    layout.gap = 0.0;
    layout.push("Contract ", text);
    layout.push(doc.contract_id.hyphenated().encode_lower(&mut id), mono);
    layout.push(&format!(" · version {} · SHA-256 ", doc.version), text);
    layout.push(doc.content_sha256, mono);
    layout.flush_within(Wrap::Words, RIGHT - LEFT - PAGE_LABEL);
}

fn draw(
    layout: &Layout,
    footer: &[Row],
    pages: usize,
    doc: &Document,
) -> Result<Vec<u8>, DocumentError> {
    let settings = SerializeSettings {
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut pdf = krilla::Document::new_with(settings);
    pdf.set_metadata(
        Metadata::new()
            .title(doc.title.to_owned())
            .document_id(doc.contract_id.to_string())
            .language("en".to_owned()),
    );
    let size = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| DocumentError::Pdf("invalid page size".to_owned()))?;
    let mut painter = Painter {
        faces: layout.faces,
        text: &layout.text,
        glyphs: Vec::new(),
        ink: None,
    };
    let mut rows = layout.rows.iter().peekable();
    let mut label = String::new();
    for number in 1..=pages {
        let mut page = pdf.start_page_with(size.clone());
        let mut surface = page.surface();
        while let Some(row) = rows.next_if(|row| row.page + 1 == number) {
            painter.row(&mut surface, &layout.items, row, row.top);
        }
        painter.line(&mut surface, (LEFT, FOOTER_RULE), (RIGHT, FOOTER_RULE), 0.5);
        let mut top = FOOTER_TOP;
        for row in footer {
            painter.row(&mut surface, &layout.items, row, top);
            top += row.height;
        }
        label.clear();
        let _ = write!(label, "Page {number} of {pages}");
        let label_style = muted(Face::Regular, FOOTER);
        let width = layout.faces.get(Face::Regular).width(&label) * FOOTER;
        let first_height = footer.first().map_or(FOOTER * 1.4, |row| row.height);
        let y = FOOTER_TOP + baseline(first_height, FOOTER);
        painter.text(&mut surface, (RIGHT - width, y), label_style, &label);
        surface.finish();
        page.finish();
    }
    pdf.finish()
        .map_err(|error| DocumentError::Pdf(error.to_string()))
}

/// Draws rows, reusing one glyph buffer for all text.
struct Painter<'l> {
    faces: &'l Faces,
    text: &'l str,
    glyphs: Vec<KrillaGlyph>,
    ink: Option<Ink>,
}

impl Painter<'_> {
    fn row(&mut self, surface: &mut Surface, items: &[Item], row: &Row, top: f32) {
        for item in items.get(row.items.clone()).unwrap_or_default() {
            match item {
                Item::Text { x, y, style, text } => {
                    let text = self.text.get(text.clone()).unwrap_or_default();
                    self.text(surface, (*x, top + y), *style, text);
                }
                Item::Rule { x0, x1, y } => {
                    self.line(surface, (*x0, top + y), (*x1, top + y), 0.5);
                }
                Item::Bar { x, joined } => {
                    let above = if *joined && !row.first_on_page {
                        row.gap
                    } else {
                        0.0
                    };
                    self.line(surface, (*x, top - above), (*x, top + row.height), 1.5);
                }
            }
        }
    }

    fn text(&mut self, surface: &mut Surface, (x, y): (f32, f32), style: Style, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        if self.ink != Some(style.ink) {
            surface.set_fill(Some(Fill {
                paint: luma::Color::new(match style.ink {
                    Ink::Text => 0x11,
                    Ink::Muted => 0x55,
                })
                .into(),
                opacity: NormalizedF32::ONE,
                rule: Default::default(),
            }));
            self.ink = Some(style.ink);
        }
        let face = self.faces.get(style.face);
        self.glyphs.clear();
        for (at, ch) in text.char_indices() {
            let (glyph, advance) = face.glyph(ch);
            let range = at..at + ch.len_utf8();
            self.glyphs
                .push(KrillaGlyph::new(glyph, advance, 0.0, 0.0, 0.0, range, None));
        }
        let start = Point::from_xy(x, y);
        surface.draw_glyphs(
            start,
            &self.glyphs,
            face.pdf.clone(),
            text,
            style.size,
            false,
        );
    }

    fn line(&mut self, surface: &mut Surface, from: (f32, f32), to: (f32, f32), width: f32) {
        let mut path = PathBuilder::new();
        path.move_to(from.0, from.1);
        path.line_to(to.0, to.1);
        let Some(path) = path.finish() else {
            return;
        };
        surface.set_fill(None);
        self.ink = None;
        surface.set_stroke(Some(Stroke {
            paint: luma::Color::new(0x99).into(),
            width,
            ..Stroke::default()
        }));
        surface.draw_path(&path);
        surface.set_stroke(None);
    }
}

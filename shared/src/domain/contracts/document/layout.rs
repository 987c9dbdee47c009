//! Line layout: styled text in, rows of positioned pieces out.
//!
//! Text is collected into one buffer per document; a block's inline text is
//! broken greedily into rows measured with the faces' advance widths, and
//! every drawn piece refers back to the buffer, so nothing is copied per
//! line or per glyph. Rows know their height and the gap above them; which
//! page they land on is decided afterwards ([`paginate`]).

use std::ops::Range;

use super::fonts::{Face, Faces};

pub(super) const PAGE_WIDTH: f32 = 595.276;
pub(super) const PAGE_HEIGHT: f32 = 841.89;
pub(super) const LEFT: f32 = 62.0;
pub(super) const RIGHT: f32 = PAGE_WIDTH - LEFT;
pub(super) const TOP: f32 = 56.0;
/// Content ends here; the footer sits below.
pub(super) const BOTTOM: f32 = PAGE_HEIGHT - 80.0;
const LEADING: f32 = 1.4;
const MARKER_GAP: f32 = 5.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ink {
    Text,
    Muted,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Style {
    pub(super) face: Face,
    pub(super) size: f32,
    pub(super) ink: Ink,
}

/// Something drawn on a row; `y` values are below the row's top.
#[derive(Debug)]
pub(super) enum Item {
    /// `text` is a range of [`Layout::text`]; `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        style: Style,
        text: Range<usize>,
    },
    Rule {
        x0: f32,
        x1: f32,
        y: f32,
    },
    /// A block quote's bar beside the row; a `joined` bar also spans the gap
    /// above, continuing the bar of the row before.
    Bar {
        x: f32,
        joined: bool,
    },
}

#[derive(Debug)]
pub(super) struct Row {
    pub(super) items: Range<usize>,
    pub(super) height: f32,
    /// Space above the row, dropped at the top of a page.
    pub(super) gap: f32,
    /// A heading's rows: never the last row of a page.
    pub(super) keep_with_next: bool,
    /// Rows sharing a non-zero group stay on one page (a signature block).
    pub(super) group: u32,
    pub(super) page: usize,
    pub(super) top: f32,
    pub(super) first_on_page: bool,
}

#[derive(Clone, Copy)]
pub(super) enum Wrap {
    /// Break between words; a word wider than the line breaks anywhere.
    Words,
    /// Keep every space and break only where the line is full (code).
    Chars,
}

pub(super) struct Layout<'f> {
    pub(super) faces: &'f Faces,
    pub(super) text: String,
    pub(super) items: Vec<Item>,
    pub(super) rows: Vec<Row>,
    /// Left edge of the current block.
    pub(super) left: f32,
    /// Gap above the next row.
    pub(super) gap: f32,
    pub(super) keep_with_next: bool,
    pub(super) group: u32,
    /// A list item's marker, drawn left of the item's first row.
    pub(super) marker: Option<(Range<usize>, Style)>,
    /// Open block quotes, outermost first: an id and the bar's x.
    pub(super) quotes: Vec<(u32, f32)>,
    quotes_of_last_row: Vec<u32>,
    /// Start of the inline text being collected and its style changes as
    /// (end, style), in order.
    inline_start: usize,
    spans: Vec<(usize, Style)>,
}

impl<'f> Layout<'f> {
    pub(super) fn new(faces: &'f Faces, capacity: usize) -> Self {
        Layout {
            faces,
            text: String::with_capacity(capacity),
            items: Vec::with_capacity(capacity / 16),
            rows: Vec::with_capacity(capacity / 48),
            left: LEFT,
            gap: 0.0,
            keep_with_next: false,
            group: 0,
            marker: None,
            quotes: Vec::new(),
            quotes_of_last_row: Vec::new(),
            inline_start: 0,
            spans: Vec::new(),
        }
    }

    /// Append inline text; `\n` is a hard line break.
    pub(super) fn push(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        if self.spans.is_empty() {
            self.inline_start = self.text.len();
        }
        if text.contains(['\t', '\r']) {
            for ch in text.chars() {
                match ch {
                    '\t' => self.text.push_str("    "),
                    '\r' => {}
                    ch => self.text.push(ch),
                }
            }
        } else {
            self.text.push_str(text);
        }
        let end = self.text.len();
        match self.spans.last_mut() {
            Some(last) if last.1 == style => last.0 = end,
            _ => self.spans.push((end, style)),
        }
    }

    /// Store `text` for a piece that is not part of the inline flow.
    pub(super) fn store(&mut self, text: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(text);
        start..self.text.len()
    }

    /// Lay the collected inline text out as rows between the block's left
    /// edge and the right margin.
    pub(super) fn flush(&mut self, wrap: Wrap) {
        self.flush_within(wrap, RIGHT - self.left);
    }

    pub(super) fn flush_within(&mut self, wrap: Wrap, width: f32) {
        if self.spans.is_empty() {
            return;
        }
        let range = self.inline_start..self.text.len();
        match wrap {
            Wrap::Words => self.wrap_words(range, width),
            Wrap::Chars => self.wrap_chars(range, width),
        }
        self.spans.clear();
    }

    fn wrap_words(&mut self, range: Range<usize>, width: f32) {
        let mut line: Option<(usize, usize, f32)> = None;
        let mut at = range.start;
        while at < range.end {
            let rest = &self.text[at..range.end];
            if rest.starts_with('\n') {
                let (start, end, _) = line.take().unwrap_or((at, at, 0.0));
                self.row(start..end);
                at += 1;
                continue;
            }
            if rest.starts_with(' ') {
                at += 1;
                continue;
            }
            let end = rest.find([' ', '\n']).map_or(range.end, |n| at + n);
            let word = self.measure(at..end);
            line = Some(match line {
                Some((start, last, used)) => {
                    let fitted = used + self.measure(last..at) + word;
                    if fitted <= width {
                        (start, end, fitted)
                    } else {
                        self.row(start..last);
                        self.begin_line(at, end, word, width)
                    }
                }
                None => self.begin_line(at, end, word, width),
            });
            at = end;
        }
        if let Some((start, end, _)) = line {
            self.row(start..end);
        }
    }

    /// A line starting with the word `start..end`, breaking the word itself
    /// when it alone is too wide.
    fn begin_line(
        &mut self,
        start: usize,
        end: usize,
        word: f32,
        width: f32,
    ) -> (usize, usize, f32) {
        if word <= width {
            return (start, end, word);
        }
        let (start, used) = self.break_anywhere(start..end, width);
        (start, end, used)
    }

    /// Emit full rows of `range` and return where the unfinished last row
    /// starts and how wide it is.
    fn break_anywhere(&mut self, range: Range<usize>, width: f32) -> (usize, f32) {
        let (mut start, mut used) = (range.start, 0.0);
        let mut at = range.start;
        while let Some(ch) = self.text[at..range.end].chars().next() {
            let next = at + ch.len_utf8();
            let advance = self.measure(at..next);
            if used + advance > width && at > start {
                self.row(start..at);
                (start, used) = (at, 0.0);
            }
            used += advance;
            at = next;
        }
        (start, used)
    }

    fn wrap_chars(&mut self, range: Range<usize>, width: f32) {
        let mut start = range.start;
        while start < range.end {
            let end = self.text[start..range.end]
                .find('\n')
                .map_or(range.end, |n| start + n);
            let (rest, _) = self.break_anywhere(start..end, width);
            self.row(rest..end);
            start = end + 1;
        }
    }

    /// Width of `range` of the inline text in its styles.
    fn measure(&self, range: Range<usize>) -> f32 {
        let mut span = self.spans.partition_point(|(end, _)| *end <= range.start);
        let mut at = range.start;
        let mut width = 0.0;
        while at < range.end {
            let Some(&(end, style)) = self.spans.get(span) else {
                break;
            };
            let piece = &self.text[at..end.min(range.end)];
            width += self.faces.get(style.face).width(piece) * style.size;
            at = end;
            span += 1;
        }
        width
    }

    /// One row of inline text, split into pieces of one style each.
    fn row(&mut self, range: Range<usize>) {
        let first_span = self.spans.partition_point(|(end, _)| *end <= range.start);
        let mut size: f32 = 0.0;
        for &(end, style) in self.spans.get(first_span..).unwrap_or_default() {
            size = size.max(style.size);
            if end >= range.end {
                break;
            }
        }
        if size == 0.0 {
            let style = self.spans.last().map(|(_, style)| style);
            size = style
                .or(self.marker.as_ref().map(|(_, style)| style))
                .map_or(10.0, |style| style.size);
        }
        let height = size * LEADING;
        let y = baseline(height, size);
        let first_item = self.items.len();
        let (mut x, mut at, mut span) = (self.left, range.start, first_span);
        while at < range.end {
            let Some(&(end, style)) = self.spans.get(span) else {
                break;
            };
            let piece = at..end.min(range.end);
            let width = self.faces.get(style.face).width(&self.text[piece.clone()]) * style.size;
            self.items.push(Item::Text {
                x,
                y,
                style,
                text: piece.clone(),
            });
            (x, at, span) = (x + width, piece.end, span + 1);
        }
        if let Some((marker, style)) = self.marker.take() {
            let width = self.faces.get(style.face).width(&self.text[marker.clone()]) * style.size;
            let x = self.left - MARKER_GAP - width;
            self.items.push(Item::Text {
                x,
                y,
                style,
                text: marker,
            });
        }
        self.finish_row(first_item, height);
    }

    /// A row holding one horizontal rule across the block.
    pub(super) fn rule(&mut self, height: f32, y: f32) {
        let first_item = self.items.len();
        self.items.push(Item::Rule {
            x0: self.left,
            x1: RIGHT,
            y,
        });
        self.finish_row(first_item, height);
    }

    /// A row with nothing but what a pending list marker needs.
    pub(super) fn empty_row(&mut self) {
        self.spans.clear();
        let at = self.text.len();
        self.row(at..at);
    }

    fn finish_row(&mut self, first_item: usize, height: f32) {
        for (level, &(id, x)) in self.quotes.iter().enumerate() {
            let joined = self.quotes_of_last_row.get(level) == Some(&id);
            self.items.push(Item::Bar { x, joined });
        }
        self.quotes_of_last_row.clear();
        self.quotes_of_last_row
            .extend(self.quotes.iter().map(|(id, _)| *id));
        self.rows.push(Row {
            items: first_item..self.items.len(),
            height,
            gap: std::mem::take(&mut self.gap),
            keep_with_next: self.keep_with_next,
            group: self.group,
            page: 0,
            top: 0.0,
            first_on_page: false,
        });
    }
}

/// Baseline of text of `size` centred in a row of `height`.
pub(super) fn baseline(height: f32, size: f32) -> f32 {
    (height - size) / 2.0 + size * 0.9
}

/// Assign rows to pages and return how many pages there are.
///
/// A heading's rows stay with the row after them and a signature block's
/// rows stay together: when such a run does not fit below what the page
/// already holds it starts the next page. A run taller than a whole page
/// breaks where it must.
pub(super) fn paginate(rows: &mut [Row]) -> usize {
    let (mut page, mut y, mut empty) = (0, TOP, true);
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len() && linked(&rows[end - 1], &rows[end]) {
            end += 1;
        }
        let run: f32 = rows[start..end]
            .iter()
            .map(|row| row.gap + row.height)
            .sum();
        if !empty && y + run > BOTTOM && run - rows[start].gap <= BOTTOM - TOP {
            (page, y, empty) = (page + 1, TOP, true);
        }
        for row in &mut rows[start..end] {
            let mut gap = if empty { 0.0 } else { row.gap };
            if !empty && y + gap + row.height > BOTTOM {
                (page, y, empty, gap) = (page + 1, TOP, true, 0.0);
            }
            row.page = page;
            row.first_on_page = empty;
            row.top = y + gap;
            y = row.top + row.height;
            empty = false;
        }
        start = end;
    }
    page + 1
}

fn linked(row: &Row, next: &Row) -> bool {
    row.keep_with_next || (row.group != 0 && row.group == next.group)
}

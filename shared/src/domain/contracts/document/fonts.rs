//! The bundled DejaVu faces, parsed once per process.
//!
//! Layout measures text with the same advance widths the PDF draws with,
//! so a line that fits when measured fits when drawn.

use std::sync::LazyLock;

use krilla::text::{Font, GlyphId};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

/// A typeface of the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Face {
    Regular,
    Bold,
    Italic,
    BoldItalic,
    Mono,
}

impl Face {
    pub(super) fn styled(bold: bool, italic: bool) -> Self {
        match (bold, italic) {
            (false, false) => Face::Regular,
            (true, false) => Face::Bold,
            (false, true) => Face::Italic,
            (true, true) => Face::BoldItalic,
        }
    }
}

/// One face: the font krilla embeds and the tables layout measures with.
pub(super) struct FaceData {
    pub(super) pdf: Font,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
    /// Glyph and advance (in em) of U+0000..U+00FF, the bulk of any contract.
    latin1: [(GlyphId, f32); 256],
}

impl FaceData {
    fn load(bytes: &'static [u8]) -> Option<Self> {
        let font = FontRef::new(bytes).ok()?;
        let units_per_em = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        let mut face = FaceData {
            pdf: Font::new(bytes.into(), 0)?,
            charmap: font.charmap(),
            metrics: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
            latin1: [(GlyphId::new(0), 0.0); 256],
        };
        face.latin1 = std::array::from_fn(|code| face.lookup(char::from(code as u8)));
        Some(face)
    }

    fn lookup(&self, ch: char) -> (GlyphId, f32) {
        let glyph = self.charmap.map(ch).unwrap_or_default();
        let advance = self.metrics.advance_width(glyph).unwrap_or_default();
        (GlyphId::new(glyph.to_u32()), advance / self.units_per_em)
    }

    /// The glyph drawing `ch` (`.notdef` when the face lacks it) and its
    /// advance in em.
    #[inline]
    pub(super) fn glyph(&self, ch: char) -> (GlyphId, f32) {
        match self.latin1.get(ch as usize) {
            Some(known) => *known,
            None => self.lookup(ch),
        }
    }

    /// The advance of `text` in em.
    pub(super) fn width(&self, text: &str) -> f32 {
        text.chars().map(|ch| self.glyph(ch).1).sum()
    }
}

pub(super) struct Faces {
    regular: FaceData,
    bold: FaceData,
    italic: FaceData,
    bold_italic: FaceData,
    mono: FaceData,
}

impl Faces {
    pub(super) fn get(&self, face: Face) -> &FaceData {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
            Face::Italic => &self.italic,
            Face::BoldItalic => &self.bold_italic,
            Face::Mono => &self.mono,
        }
    }
}

macro_rules! bundled {
    ($file:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/", $file))
    };
}

/// `None` only if a bundled file is not a font, which the tests rule out.
pub(super) static FACES: LazyLock<Option<Faces>> = LazyLock::new(|| {
    Some(Faces {
        regular: FaceData::load(bundled!("DejaVuSerif.ttf"))?,
        bold: FaceData::load(bundled!("DejaVuSerif-Bold.ttf"))?,
        italic: FaceData::load(bundled!("DejaVuSerif-Italic.ttf"))?,
        bold_italic: FaceData::load(bundled!("DejaVuSerif-BoldItalic.ttf"))?,
        mono: FaceData::load(bundled!("DejaVuSansMono.ttf"))?,
    })
});

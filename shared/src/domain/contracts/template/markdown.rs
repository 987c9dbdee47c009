//! Markdown escaping of every value a template prints.

/// Markdown-escapes text so it renders literally wherever it lands: the
/// inline markup characters are backslash-escaped everywhere, and what
/// would open a block (`#`, `-`, `+`, `=`, `1.`) at the start of each line.
/// Lines are trimmed, blank lines dropped and line breaks kept as hard
/// breaks, so text cannot end the paragraph or list item it sits in.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty());
    for (i, line) in lines.enumerate() {
        if i > 0 {
            out.push_str("\\\n");
        }
        let marker = block_marker(line);
        for (at, c) in line.char_indices() {
            if c.is_control() && c != '\t' {
                continue;
            }
            let escape = match c {
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '$' => true,
                // Only an entity reference (`&amp;`, `&#42;`) is markup.
                '&' => line[at + 1..].starts_with(|n: char| n.is_ascii_alphanumeric() || n == '#'),
                _ => marker == Some(at),
            };
            if escape {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Where a character at the start of a line would open a heading, a list
/// item, a thematic break or a setext underline: `#`, `-`, `+` or `=` not
/// followed by a letter or digit (so `+49 30` and `-5` stay as they are),
/// or the `.`/`)` of `1. ` and `2) `.
fn block_marker(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    match bytes.first()? {
        b'#' | b'-' | b'+' | b'=' => {
            (!bytes.get(1).is_some_and(u8::is_ascii_alphanumeric)).then_some(0)
        }
        b'0'..=b'9' => {
            let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            let delimiter = matches!(bytes.get(digits), Some(b'.' | b')'));
            let then_space = matches!(bytes.get(digits + 1), None | Some(b' ' | b'\t'));
            (delimiter && then_space).then_some(digits)
        }
        _ => None,
    }
}

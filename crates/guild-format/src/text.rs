//! Text from runs (labels, flag values, run dir names) made safe to print:
//! control characters and escape sequences are shown escaped, never sent
//! raw to a terminal.

use std::borrow::Cow;

fn is_control(c: char) -> bool {
    c.is_control() // C0, DEL and C1 (U+0080..U+009F, which includes CSI)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `s` with every control character escaped (`\x1b`, `\n`, ...).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// As [`escape`], keeping line breaks: for multi-line text made of
/// already escaped values.
pub fn escape_keep_newlines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_control(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c != '\n' && is_control(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Bytes as Guild's `format_bytes` shows them: plain below 1024, else one
/// decimal and a unit (`495`, `21.3K`, `1.5M`).
pub fn format_bytes(n: u64) -> String {
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64;
    for unit in ["K", "M", "G", "T", "P", "E", "Z"] {
        v /= 1024.0;
        if v < 1024.0 || unit == "Z" {
            return format!("{v:.1}{unit}");
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_text_kept() {
        assert_eq!(escape("plain é 日本"), "plain é 日本");
        assert_eq!(escape("a\x1b[31mred\x07\n"), "a\\x1b[31mred\\x07\\n");
        assert_eq!(escape("\u{9b}2J"), "\\x9b2J");
        assert_eq!(escape_keep_newlines("a\x1b\nb\r"), "a\\x1b\nb\\r");
    }

    #[test]
    fn format_bytes_as_guild() {
        assert_eq!(format_bytes(495), "495");
        assert_eq!(format_bytes(1024), "1.0K");
        assert_eq!(format_bytes(1536), "1.5K");
        assert_eq!(format_bytes(21811), "21.3K");
        assert_eq!(format_bytes(5 * 1024 * 1024), "5.0M");
    }
}

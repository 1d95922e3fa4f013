//! Text from users and files shown on a terminal or written to a log.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every control character (C0, DEL, C1) written as an escape (`\x1b`, `\u{9b}`), so a
/// session name or file name holding `ESC[2J` or a BEL cannot clear or ring the terminal, move
/// the cursor or forge a line of output. Text without control characters is borrowed as is.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\u{0}'..='\u{7f}' if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_keeps_the_rest() {
        assert_eq!(escape_controls("tübingen 1"), "tübingen 1");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\u{1b}[2Jb\u{7}"), "a\\x1b[2Jb\\x07");
        assert_eq!(escape_controls("x\ny\tz\u{7f}"), "x\\x0ay\\x09z\\x7f");
        assert_eq!(escape_controls("\u{9b}31m"), "\\u{9b}31m");
    }
}

//! The dashboard's colours: one palette that reads on dark and light backgrounds alike.
//!
//! xterm's default is black on white, most other terminals white on black, and a query for the
//! background (OSC 11) is not answered through every tmux or SSH hop. So no colour here depends on
//! the background: text that must always read (the total loss, `done`, info lines) uses the
//! terminal's own foreground (`Reset`), and the accents are 256-colour shades of middle lightness,
//! each with a contrast of at least 3:1 against both white and black (see the test below; ANSI
//! white, grey, yellow, cyan and green fall under 2.5:1 on white, ANSI blue under 2.5:1 on black).

use ratatui::style::Color;

/// The terminal's own foreground: black on a light background, white on a dark one.
pub const TEXT: Color = Color::Reset;
/// Keys, focused borders, presets, the content loss (#0087af).
pub const ACCENT: Color = Color::Indexed(31);
/// Warnings, paused sessions, status messages, the TV loss (#af5f00, a dark orange).
pub const WARN: Color = Color::Indexed(130);
/// Running sessions, the selected preset (#008700).
pub const GOOD: Color = Color::Indexed(28);
/// Queued sessions, folders (#005fd7).
pub const INFO: Color = Color::Indexed(26);
/// The style loss, interrupted sessions (#af00af).
pub const STYLE: Color = Color::Indexed(127);
/// Errors and failed sessions (ANSI red, #cd0000 in xterm).
pub const ERROR: Color = Color::Red;
/// Borders, labels and hints (ANSI bright black, #7f7f7f in xterm).
pub const MUTED: Color = Color::DarkGray;

/// The colour's RGB as xterm draws it by default; `None` for `Reset` and colours that are not
/// text (pictures use RGB).
pub fn xterm_rgb(c: Color) -> Option<(u8, u8, u8)> {
    const ANSI: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    let index = match c {
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Indexed(i) => i,
        _ => return None,
    };
    if index < 16 {
        return Some(ANSI[index as usize]);
    }
    if index >= 232 {
        let v = 8 + 10 * (index - 232);
        return Some((v, v, v));
    }
    let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
    let i = index - 16;
    Some((level(i / 36), level(i / 6 % 6), level(i % 6)))
}

/// WCAG contrast ratio between two colours (1 to 21).
pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let channel = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let lum = |(r, g, b): (u8, u8, u8)| 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    let (la, lb) = (lum(a), lum(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The lowest contrast a text colour may have against white or black.
pub const MIN_CONTRAST: f64 = 3.0;

/// True when `c` reads on xterm's white background and on black.
pub fn reads_on_both(c: Color) -> bool {
    xterm_rgb(c)
        .is_none_or(|rgb| contrast(rgb, (255, 255, 255)) >= MIN_CONTRAST && contrast(rgb, (0, 0, 0)) >= MIN_CONTRAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_reads_on_white_and_black() {
        for c in [TEXT, ACCENT, WARN, GOOD, INFO, STYLE, ERROR, MUTED] {
            assert!(reads_on_both(c), "{c:?}");
        }
        // What the dashboard used before: invisible or faint on one of the two.
        for c in [Color::White, Color::Gray, Color::Yellow, Color::Cyan, Color::Green, Color::Blue] {
            assert!(!reads_on_both(c), "{c:?}");
        }
        assert_eq!(xterm_rgb(Color::Indexed(130)), Some((175, 95, 0)));
    }
}
